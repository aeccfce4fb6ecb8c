import { z } from 'zod';
import type { Principal } from '../hosted/principal';
import { DEFAULT_TENANT_LIMITS, type TenantLimits } from '../limits/tenant-limits';
import { RoleSchema } from '../tenancy/model';
import { getAccessRecordForMcp } from '../tenancy/tenant-store';
import { tenantDefinedForMcp, type TenantDefined } from '../tenancy/server-names';

/** What an OAuth grant stores about the signed-in user (the token's props). */
export const GrantPropsSchema = z.object({ tenantId: z.string(), userId: z.string(), email: z.string(), role: RoleSchema });
export type GrantProps = z.infer<typeof GrantPropsSchema>;

/** The validator's effective limits for the key; any limit it did not send is the platform default. */
const LimitsSchema = z
  .object(
    Object.fromEntries(Object.keys(DEFAULT_TENANT_LIMITS).map((k) => [k, z.number().optional()])) as Record<keyof TenantLimits, z.ZodOptional<z.ZodNumber>>,
  )
  .transform((l): TenantLimits => ({ ...DEFAULT_TENANT_LIMITS, ...Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)) }));

/**
 * What the API-key validator hands the gate: the key, and its tenant's status, servers and limits
 * as read in the same D1 query during this request (null when the tenant row is gone).
 */
export const KeyPropsSchema = z.object({
  kind: z.literal('api-key'),
  tenantId: z.string(),
  keyId: z.string(),
  role: RoleSchema,
  tenant: z
    .object({
      status: z.enum(['active', 'suspended']),
      servers: z.array(z.string()),
      limits: LimitsSchema.default({ ...DEFAULT_TENANT_LIMITS }),
      generation: z.number().int().nonnegative().default(0),
    })
    .nullable(),
  /**
   * For a tenant-defined server name (upstream or deployed module): the row of `tenantDefinedQuery`
   * for the key's tenant, read by the validator in the same D1 round trip as the key.
   */
  definedRow: z.record(z.string(), z.unknown()).nullable().optional(),
});
export type KeyProps = z.infer<typeof KeyPropsSchema>;

/** Props built by this isolate's API-key validator (`keyProps`), already in KeyProps' shape: not parsed again. */
const issued = new WeakSet<object>();

/**
 * The props the API-key validator hands the provider for the gate. They are made here, in the same
 * request, from a verified key, so `resolvePrincipal` takes them as they are instead of running
 * KeyPropsSchema again (a fifth of the stateless lane's zod time, by profile). Frozen: the tenant
 * state may be shared by concurrent requests through the credential cache.
 */
export function keyProps(props: KeyProps): KeyProps {
  const made = Object.freeze(props);
  issued.add(made);
  return made;
}

/** The caller of one MCP request with its tenant's current limits. */
export interface ResolvedCaller {
  principal: Principal;
  limits: TenantLimits;
  /** For a tenant-defined name: what it is for the caller's tenant (null: no such server there). */
  defined?: TenantDefined | null;
}

/**
 * Turn validated token props into the request's principal, from the control plane's current
 * state: the user's role now (not at grant time), the tenant's status, enabled servers and limits
 * (for API keys read by the validator in the same request, for OAuth grants read here, in one
 * query either way). For a tenant-defined name (`upstream`), also what the name is for the caller's
 * tenant: from the API key's own D1 round trip, or read beside an OAuth grant's access record.
 * Returns the refusal message instead when access must be denied.
 */
export async function resolvePrincipal(
  env: Env,
  props: unknown,
  clientId: string,
  server: string,
  upstream = false,
): Promise<ResolvedCaller | { refusal: string; tenant?: string }> {
  const key =
    props !== null && typeof props === 'object' && issued.has(props) ? { success: true as const, data: props as KeyProps } : KeyPropsSchema.safeParse(props);
  if (key.success) {
    const refusal = tenantRefusal(key.data.tenant, server, upstream);
    if (refusal) return { refusal, tenant: key.data.tenantId };
    const principal: Principal = {
      tenantId: key.data.tenantId,
      userId: `key:${key.data.keyId}`,
      role: key.data.role,
      clientId: key.data.keyId,
      kind: 'api-key',
      server,
      generation: key.data.tenant!.generation,
    };
    if (!upstream) return { principal, limits: key.data.tenant!.limits };
    const defined = await tenantDefinedForMcp(env.DB, principal.tenantId, server, key.data.definedRow);
    return { principal, limits: key.data.tenant!.limits, defined };
  }
  const grant = GrantPropsSchema.safeParse(props);
  if (!grant.success) return { refusal: 'Access denied: token does not carry a platform identity' };
  const [access, defined] = await Promise.all([
    getAccessRecordForMcp(env.DB, grant.data.tenantId, grant.data.userId),
    upstream ? tenantDefinedForMcp(env.DB, grant.data.tenantId, server) : undefined,
  ]);
  if (!access) return { refusal: 'Access denied: account no longer exists', tenant: grant.data.tenantId };
  const refusal = tenantRefusal({ status: access.tenantStatus, servers: access.servers }, server, upstream);
  if (refusal) return { refusal, tenant: grant.data.tenantId };
  return {
    principal: { tenantId: grant.data.tenantId, userId: grant.data.userId, role: access.role, clientId, kind: 'oauth', server, generation: access.generation },
    limits: access.limits,
    ...(upstream ? { defined } : {}),
  };
}

/** Upstreams are enabled per tenant by registering them; the gate checks the tenant has this one. */
function tenantRefusal(tenant: { status: string; servers: string[] } | null, server: string, upstream: boolean): string | null {
  if (!tenant) return 'Access denied: tenant no longer exists';
  if (tenant.status !== 'active') return 'Access denied: tenant is suspended';
  if (!upstream && !tenant.servers.includes(server)) return `Access denied: server "${server}" is not enabled for this tenant`;
  return null;
}
