import { toHex } from '../crypto/secrets';

/**
 * Whose token a revocation request presents, checked against the provider's own records before
 * anything is attributed to a tenant (an unverified token names a user id the caller chose).
 * Reads the provider's KV layout (`@cloudflare/workers-oauth-provider` 1.2.x: `grant:<user>:<grant>`
 * with `refreshTokenId` / `previousRefreshTokenId` / `clientId` / `metadata`, and
 * `token:<user>:<grant>:<sha256>` for access tokens); `test/worker/oauth-audit.test.ts` fails if
 * that layout changes.
 */
export interface TokenOwner {
  tenantId: string;
  userId: string;
  clientId: string;
}

interface GrantRecord {
  clientId?: unknown;
  refreshTokenId?: unknown;
  previousRefreshTokenId?: unknown;
  metadata?: { tenantId?: unknown } | null;
}

/** The verified owner of `token` when `clientId` holds it (access or refresh token), else null. */
export async function verifiedTokenOwner(env: Env, token: string, clientId: unknown): Promise<TokenOwner | null> {
  const parts = token.split(':');
  if (parts.length !== 3 || typeof clientId !== 'string' || parts.some((p) => p.length === 0 || p.length > 200)) return null;
  const [userId, grantId] = parts as [string, string, string];
  const hash = toHex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)));
  const grant = await env.OAUTH_KV.get<GrantRecord>(`grant:${userId}:${grantId}`, 'json');
  if (!grant || grant.clientId !== clientId || typeof grant.metadata?.tenantId !== 'string') return null;
  const isRefresh = grant.refreshTokenId === hash || grant.previousRefreshTokenId === hash;
  const isAccess = !isRefresh && (await env.OAUTH_KV.get(`token:${userId}:${grantId}:${hash}`)) !== null;
  return isRefresh || isAccess ? { tenantId: grant.metadata.tenantId, userId, clientId } : null;
}

/**
 * A client id as the audit trail may keep it when nothing vouches for it: printable ASCII, at most
 * 100 characters; anything else is recorded as `invalid`.
 */
export function boundedClientId(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  return /^[\x21-\x7e]{1,100}$/.test(value) ? value : 'invalid';
}
