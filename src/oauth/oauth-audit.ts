import { GrantPropsSchema } from '../gate/principal-resolver';
import { recordAudit } from '../audit/record';
import { requestContext } from '../observability/request-context';

/**
 * The provider's `tokenExchangeCallback` runs inside the token request with the grant's props:
 * note whose token it is, so the request's audit event is filed under that tenant and user.
 */
export function noteTokenSubject(props: unknown): void {
  const grant = GrantPropsSchema.safeParse(props);
  const context = requestContext();
  if (grant.success && context) {
    context.tenant = grant.data.tenantId;
    context.subject = grant.data.userId;
  }
}

const AUDITED: Record<string, string> = { '/oauth/token': 'oauth.token', '/oauth/register': 'oauth.register' };

/**
 * Serve a provider endpoint (token issue, refresh, revocation, client registration) and record
 * its outcome. Only non-secret form fields are read: grant type and client id; a revoked token's
 * first segment is the user id the provider put there, used to find the tenant.
 */
export async function auditedOAuthEndpoint(request: Request, env: Env, serve: () => Promise<Response>): Promise<Response> {
  const path = new URL(request.url).pathname;
  const action = AUDITED[path];
  if (!action || request.method !== 'POST') return serve();
  const form = path === '/oauth/token' ? await request.clone().formData().catch(() => null) : null;
  const response = await serve();
  const grantType = form?.get('grant_type');
  const revokedToken = !grantType ? form?.get('token') : null;
  const context = requestContext();
  let tenant = context?.tenant ?? null;
  let user = context?.subject;
  if (typeof revokedToken === 'string') {
    user = revokedToken.split(':')[0];
    const row = user ? await env.DB.prepare('SELECT tenant_id FROM users WHERE id = ?').bind(user).first<{ tenant_id: string }>() : null;
    tenant = row?.tenant_id ?? null;
  }
  const clientId = form?.get('client_id');
  await recordAudit(env, {
    tenant,
    action: typeof revokedToken === 'string' ? 'oauth.revoke' : action,
    result: response.ok ? 'ok' : response.status === 429 ? 'rate_limited' : 'denied',
    user,
    client: typeof clientId === 'string' ? clientId.slice(0, 200) : undefined,
    details: { status: response.status, ...(typeof grantType === 'string' ? { grantType: grantType.slice(0, 100) } : {}) },
  });
  return response;
}
