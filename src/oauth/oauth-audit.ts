import { GrantPropsSchema } from '../gate/principal-resolver';
import { recordAudit } from '../audit/record';
import { requestContext } from '../observability/request-context';
import { boundedClientId, verifiedTokenOwner } from './token-owner';

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

const MAX_CLIENT_ID = 256;
const unknownClient = () =>
  new Response(JSON.stringify({ error: 'invalid_client', error_description: 'Client authentication failed' }), {
    status: 401,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
  });

/** The client id a token request names: the form's `client_id`, or HTTP Basic client authentication. */
function presentedClientId(request: Request, form: FormData | null): string | undefined {
  const field = form?.get('client_id');
  if (typeof field === 'string' && field !== '') return field;
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
  if (!basic) return undefined;
  try {
    return decodeURIComponent(atob(basic).split(':')[0] ?? '');
  } catch {
    return undefined;
  }
}

/**
 * Serve a provider endpoint (token issue, refresh, revocation, client registration) and record
 * its outcome. An event is filed under a tenant only once the credential is verified: for grants,
 * by the provider (its `tokenExchangeCallback` notes the subject, see `noteTokenSubject`); for a
 * revocation, by checking the presented token against the provider's records before it is revoked
 * (`verifiedTokenOwner`). Anything else goes to the platform trail (`tenant: null`) with the
 * client id bounded (`boundedClientId`). Only non-secret form fields are read.
 */
export async function auditedOAuthEndpoint(request: Request, env: Env, serve: () => Promise<Response>): Promise<Response> {
  const path = new URL(request.url).pathname;
  const action = AUDITED[path];
  if (!action || request.method !== 'POST') return serve();
  const form =
    path === '/oauth/token'
      ? await request
          .clone()
          .formData()
          .catch(() => null)
      : null;
  const grantType = form?.get('grant_type');
  const revokedToken = !grantType ? form?.get('token') : null;
  const clientId = presentedClientId(request, form);
  const owner = typeof revokedToken === 'string' ? await verifiedTokenOwner(env, revokedToken, clientId) : null;
  // No client id is this long (the provider would use it as a KV key, which fails past 512 bytes).
  const response = (clientId?.length ?? 0) > MAX_CLIENT_ID ? unknownClient() : await serve();
  const context = requestContext();
  const tenant = owner?.tenantId ?? (typeof revokedToken === 'string' ? null : (context?.tenant ?? null));
  const user = owner?.userId ?? (tenant !== null ? context?.subject : undefined);
  await recordAudit(env, {
    tenant,
    action: typeof revokedToken === 'string' ? 'oauth.revoke' : action,
    result: response.ok ? 'ok' : response.status === 429 ? 'rate_limited' : 'denied',
    user,
    client: owner?.clientId ?? boundedClientId(clientId),
    details: {
      status: response.status,
      ...(typeof grantType === 'string' ? { grantType: boundedClientId(grantType.slice(0, 100)) } : {}),
      ...(typeof revokedToken === 'string' && !owner ? { verified: false } : {}),
      ...(context?.note ? { note: context.note } : {}),
    },
  });
  return response;
}
