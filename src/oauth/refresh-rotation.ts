import { base64url, toHex } from '../crypto/secrets';
import { log } from '../observability/log';
import { requestContext } from '../observability/request-context';
import { oauthSurface } from './oauth-surface';

/**
 * Refresh-token rotation made safe in front of the provider (`@cloudflare/workers-oauth-provider`
 * 1.2.3 accepts the current and the previous refresh token of a grant, so two concurrent refreshes
 * leave one client with a dead token, and an old token replayed later kills the current one and
 * stays valid forever). Each grant's refreshes go through its `RefreshGuard` object: concurrent
 * uses of one token are serialised and all get the first answer; a token rotated out more than the
 * grace ago is a reuse (RFC 9700 §4.14.2), and the whole grant is revoked. The guard sees only a
 * hash of the token; the answer it keeps for the grace is sealed with a key derived from the token.
 */

interface GrantRecord {
  clientId?: unknown;
  metadata?: { tenantId?: unknown } | null;
}

const JSON_HEADERS = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', Pragma: 'no-cache' };

const invalidGrant = (description: string) =>
  new Response(JSON.stringify({ error: 'invalid_grant', error_description: description }), { status: 400, headers: JSON_HEADERS });

async function tokenKeys(token: string): Promise<{ id: string; key: CryptoKey }> {
  const encoder = new TextEncoder();
  const id = toHex(await crypto.subtle.digest('SHA-256', encoder.encode(`smcp-refresh-id\n${token}`)));
  const raw = await crypto.subtle.digest('SHA-256', encoder.encode(`smcp-refresh-key\n${token}`));
  return { id, key: await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']) };
}

function fromBase64url(text: string): Uint8Array {
  return Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
}

async function seal(key: CryptoKey, text: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(text));
  return `${base64url(iv)}.${base64url(new Uint8Array(data))}`;
}

async function open(key: CryptoKey, sealed: string): Promise<string | null> {
  const [iv, data] = sealed.split('.');
  try {
    return new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromBase64url(iv!) }, key, fromBase64url(data!)));
  } catch {
    return null;
  }
}

function presentedClient(request: Request, form: FormData): string | undefined {
  const field = form.get('client_id');
  if (typeof field === 'string' && field !== '') return field;
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
  try {
    return basic ? decodeURIComponent(atob(basic).split(':')[0] ?? '') : undefined;
  } catch {
    return undefined;
  }
}

/** Serve `/oauth/token`, putting refresh-token grants through their grant's RefreshGuard. */
export async function guardRefresh(request: Request, env: Env, serve: () => Promise<Response>): Promise<Response> {
  if (request.method !== 'POST' || !request.headers.get('content-type')?.includes('application/x-www-form-urlencoded')) return serve();
  const form = await request
    .clone()
    .formData()
    .catch(() => null);
  const token = form?.get('refresh_token');
  if (!form || form.get('grant_type') !== 'refresh_token' || typeof token !== 'string') return serve();
  const parts = token.split(':');
  if (parts.length !== 3 || parts.some((p) => p === '' || p.length > 200)) return serve();
  const [userId, grantId] = parts as [string, string, string];
  // Only grants that exist get a guard object; anything else is the provider's invalid_grant.
  const grant = await env.OAUTH_KV.get<GrantRecord>(`grant:${userId}:${grantId}`, 'json');
  if (!grant) return serve();
  const { id, key } = await tokenKeys(token);
  const guard = env.REFRESH_GUARD.get(env.REFRESH_GUARD.idFromName(`${userId}:${grantId}`));
  const verdict = await guard.begin(id);
  const context = requestContext();
  const tenant = typeof grant.metadata?.tenantId === 'string' ? grant.metadata.tenantId : undefined;

  if (verdict.kind === 'reuse') {
    // The token was genuinely issued for this grant (its hash is on record): the event is the tenant's.
    await (await oauthSurface(env)).authorizationServer.getOAuthApi(env).revokeGrant(grantId, userId);
    if (context) Object.assign(context, { tenant, subject: userId, note: 'refresh_token_reuse' });
    log('warn', 'oauth.refresh_reuse', { tenant, principal: userId, rotatedSecondsAgo: Math.round((Date.now() - verdict.rotatedAt) / 1000) });
    return invalidGrant('This refresh token was already used; the grant is revoked. Authorize again.');
  }
  if (verdict.kind === 'replay') {
    if (presentedClient(request, form) !== grant.clientId) return invalidGrant('Client ID mismatch');
    const body = await open(key, verdict.sealed);
    if (body === null) return invalidGrant('Invalid refresh token');
    if (context) Object.assign(context, { tenant, subject: userId, note: 'refresh_token_concurrent' });
    return new Response(body, { headers: JSON_HEADERS });
  }
  let sealed: string | null = null;
  try {
    const response = await serve();
    if (response.status === 200) sealed = await seal(key, await response.clone().text());
    return response;
  } finally {
    await guard.finish(id, sealed);
  }
}
