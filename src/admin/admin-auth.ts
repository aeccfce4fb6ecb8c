import { adminToken } from '../config';
import { safeEqual } from '../crypto/secrets';
import { restError } from '../http/responses';
import { recordDenial } from '../audit/record';
import { API_KEY_PREFIX, verifyApiKey } from '../tenancy/api-keys';

/**
 * Who is changing the control plane: the operator (every tenant) or a tenant admin (its own
 * tenant), through an admin API key or a dashboard sign-in. `via` says which surface, for the audit trail.
 */
export type Actor =
  { kind: 'operator'; via?: 'api' | 'dashboard' } | { kind: 'tenant-admin'; tenantId: string; keyId?: string; userId?: string; via?: 'api' | 'dashboard' };

/**
 * Authenticate an admin API call: the operator token (when `SMCP_ADMIN_TOKEN` is set) or an API key
 * with role `admin`. Without an operator token configured, anything but a tenant admin key gets 404,
 * so an unconfigured deployment shows no admin surface.
 */
export async function authenticateAdmin(request: Request, env: Env): Promise<Actor | Response> {
  const operator = adminToken(env);
  const presented = /^Bearer (.+)$/i.exec(request.headers.get('authorization') ?? '')?.[1] ?? '';
  const path = new URL(request.url).pathname;
  const unauthorized = () =>
    restError(401, 'unauthorized', 'A valid operator token or admin API key is required', { 'WWW-Authenticate': 'Bearer realm="smcp-admin"' });
  if (presented.startsWith(API_KEY_PREFIX)) {
    const verified = await verifyApiKey(env.DB, presented);
    if ('refusal' in verified) {
      recordDenial(`api key ${verified.refusal}`, { path });
      return unauthorized();
    }
    if (verified.key.role !== 'admin') {
      recordDenial('api key without admin role', { path, tenant: verified.key.tenantId });
      return restError(403, 'forbidden', 'This API key does not have the admin role');
    }
    return { kind: 'tenant-admin', tenantId: verified.key.tenantId, keyId: verified.key.id };
  }
  if (!operator) return restError(404, 'not_found', 'Not found');
  if (await safeEqual(presented, operator)) return { kind: 'operator' };
  recordDenial('bad operator token', { path });
  return unauthorized();
}

/** Whether the actor may act on `tenantId`; tenant admins see other tenants as nonexistent. */
export function canActOn(actor: Actor, tenantId: string): boolean {
  return actor.kind === 'operator' || actor.tenantId === tenantId;
}
