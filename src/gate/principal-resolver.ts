import { z } from 'zod';
import type { Principal } from '../hosted/principal';
import { RoleSchema } from '../tenancy/model';
import { getAccessRecord } from '../tenancy/tenant-store';

/** What an OAuth grant stores about the signed-in user (the token's props). */
export const GrantPropsSchema = z.object({ tenantId: z.string(), userId: z.string(), email: z.string(), role: RoleSchema });
export type GrantProps = z.infer<typeof GrantPropsSchema>;

/**
 * What the API-key validator hands the gate: the key, and its tenant's status and servers as read
 * in the same D1 query during this request (null when the tenant row is gone).
 */
export const KeyPropsSchema = z.object({
  kind: z.literal('api-key'),
  tenantId: z.string(),
  keyId: z.string(),
  role: RoleSchema,
  tenant: z.object({ status: z.enum(['active', 'suspended']), servers: z.array(z.string()) }).nullable(),
});
export type KeyProps = z.infer<typeof KeyPropsSchema>;

/**
 * Turn validated token props into the request's principal, from the control plane's current
 * state: the user's role now (not at grant time), the tenant's status and enabled servers (for API
 * keys read by the validator in the same request, for OAuth grants read here). Returns
 * the refusal message instead when access must be denied.
 */
export async function resolvePrincipal(env: Env, props: unknown, clientId: string, server: string, upstream = false): Promise<Principal | { refusal: string; tenant?: string }> {
  const key = KeyPropsSchema.safeParse(props);
  if (key.success) {
    const refusal = tenantRefusal(key.data.tenant, server, upstream);
    if (refusal) return { refusal, tenant: key.data.tenantId };
    return { tenantId: key.data.tenantId, userId: `key:${key.data.keyId}`, role: key.data.role, clientId: key.data.keyId, kind: 'api-key', server };
  }
  const grant = GrantPropsSchema.safeParse(props);
  if (!grant.success) return { refusal: 'Access denied: token does not carry a platform identity' };
  const access = await getAccessRecord(env.DB, grant.data.tenantId, grant.data.userId);
  if (!access) return { refusal: 'Access denied: account no longer exists', tenant: grant.data.tenantId };
  const refusal = tenantRefusal({ status: access.tenantStatus, servers: access.servers }, server, upstream);
  if (refusal) return { refusal, tenant: grant.data.tenantId };
  return { tenantId: grant.data.tenantId, userId: grant.data.userId, role: access.role, clientId, kind: 'oauth', server };
}

/** Upstreams are enabled per tenant by registering them; the gate checks the tenant has this one. */
function tenantRefusal(tenant: { status: string; servers: string[] } | null, server: string, upstream: boolean): string | null {
  if (!tenant) return 'Access denied: tenant no longer exists';
  if (tenant.status !== 'active') return 'Access denied: tenant is suspended';
  if (!upstream && !tenant.servers.includes(server)) return `Access denied: server "${server}" is not enabled for this tenant`;
  return null;
}
