import { z } from 'zod';
import { RoleSchema, storageNamespace } from '../tenancy/model';

/**
 * Who is calling: the identity the gate attaches to every MCP request it forwards. It is rebuilt
 * from the token and the control plane on every request (never taken from stored session props),
 * so a changed role or a disabled tenant applies to the very next call.
 */
export const PrincipalSchema = z.object({
  tenantId: z.string().min(1),
  userId: z.string().min(1),
  role: RoleSchema,
  /** OAuth client id, or the API key id for key-authenticated callers. */
  clientId: z.string().min(1),
  kind: z.enum(['oauth', 'api-key']),
  server: z.string().min(1),
  /** The tenant's incarnation (0 for the first): a tenant deleted and created again is a new one. */
  generation: z.number().int().nonnegative().optional(),
});
export type Principal = z.infer<typeof PrincipalSchema>;

/**
 * Internal header carrying the principal from the gate to the session's Durable Object. The gate
 * deletes any copy a client sends, and only the Worker can reach the Durable Objects.
 */
export const PRINCIPAL_HEADER = 'x-smcp-principal';
/** Internal headers set next to the principal, for the session's audit events (also stripped from clients). */
export const CORRELATION_FORWARD_HEADER = 'x-smcp-correlation-id';
export const CLIENT_IP_FORWARD_HEADER = 'x-smcp-client-ip';

/** The session owner: sessions are bound to tenant, user and client (or key), not to a role. */
export function ownerKey(p: Principal): string {
  const tenant = p.generation ? `${p.tenantId}#${p.generation}` : p.tenantId;
  return [tenant, p.kind, p.userId, p.clientId].join('|');
}

/** Where the caller's tenant keeps its data (KV and R2 prefixes, SQL database object name). */
export function tenantNamespace(p: Principal): string {
  return storageNamespace(p.tenantId, p.generation ?? 0);
}

/** Header encoding: base64 of UTF-8 JSON, safe for any header value. */
export function encodePrincipal(p: Principal): string {
  const json = JSON.stringify(p);
  // A caller's requests carry the same principal: the last one's encoding is reused (its JSON is the key).
  if (lastEncoded?.json === json) return lastEncoded.value;
  const bytes = new TextEncoder().encode(json);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  lastEncoded = { json, value: btoa(binary) };
  return lastEncoded.value;
}

let lastEncoded: { json: string; value: string } | undefined;

/** The last header decoded in this isolate: a session's requests carry the same one, so it is decoded and validated once. */
let lastDecoded: { value: string; principal: Principal } | undefined;

/** Decode and validate the header; null for anything malformed (deny by default). The principal is frozen (it may be shared). */
export function decodePrincipal(value: string | undefined | null): Principal | null {
  if (!value) return null;
  if (lastDecoded?.value === value) return lastDecoded.principal;
  try {
    const bytes = Uint8Array.from(atob(value), (c) => c.charCodeAt(0));
    const parsed = PrincipalSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
    if (!parsed.success) return null;
    lastDecoded = { value, principal: Object.freeze(parsed.data) };
    return lastDecoded.principal;
  } catch {
    return null;
  }
}
