import type { LimitHit } from './limits';

/**
 * Isolate-local memos of rate refusals that are known to hold until a given time, so a caller
 * hammering over its limit costs the platform as little as possible:
 *
 * - per tenant: once the limiter refused a tenant for `tenant_rpm`, its other credentials reaching
 *   this isolate are refused after authentication without the principal's D1 read or a limiter
 *   call (`knownFullFor`);
 * - per credential: once a request with a given bearer token was refused for a rate limit (the
 *   tenant's rate or the credential's own minute/hour/day windows), further requests with the same
 *   token are refused by the router before anything else runs: no token validation (D1 or KV), no
 *   body read, no Durable Object call (`knownRefusal`). Keyed by a SHA-256 of the token (never the
 *   token), filled only from refusals of authenticated requests, so a made-up token never matches.
 *   The hash is only computed while some credential is memoised here. A token that keeps sending
 *   after its first refusals has its answers held on a timer (`tarpitMs`).
 *
 * Both stay exact: a window's count only grows within the window, so a window the limiter reported
 * full stays full until it ends (what Retry-After says). Two things are noticed late: a limit raised
 * by an admin applies at once in the isolate that made the change (`forgetRefusals`) and in the
 * others once their memo lapses (at most a minute: hour and day refusals are re-checked with the
 * limiter every minute while still answering the true Retry-After), and a token revoked or a tenant
 * suspended meanwhile is answered 429 rather than 401/403 until then.
 */
const fullUntil = new Map<string, number>();

interface Refusal {
  /** When the refused window ends (the truthful Retry-After). */
  until: number;
  /** When to ask the limiter again (the window's end, or a minute for hour and day windows). */
  recheckAt: number;
  hit: Omit<LimitHit, 'retryAfter' | 'server'>;
  /** Refusals answered from this memo so far. */
  answered: number;
}

/** Refusals a memoised token gets at once; after that each is answered a little later (`tarpitMs`). */
export const FREE_REFUSALS = 10;
/** The longest a refusal is held back. */
export const MAX_TARPIT_MS = 1000;

/**
 * How long to hold the `n`th refusal of a memoised token before answering it: nothing for the
 * first FREE_REFUSALS (a client that reads Retry-After never gets here), then 20 ms more for each
 * further one, up to MAX_TARPIT_MS. Holding costs no CPU (the answer waits on a timer), and a
 * client that keeps hammering regardless (a closed loop) is slowed to about one request a second
 * per connection instead of taking the CPU that serves others.
 */
export const tarpitMs = (n: number) => Math.min(MAX_TARPIT_MS, Math.max(0, n - FREE_REFUSALS) * 20);
const refusedCredentials = new Map<string, Refusal>();

const MAX_ENTRIES = 10_000;
/** Longest a refusal is answered from memory before the limiter is asked again. */
export const RECHECK_MS = 60_000;

/** Seconds until the tenant's full window ends, or 0 when it is not known to be full. */
export function knownFullFor(tenantId: string, now = Date.now()): number {
  const until = fullUntil.get(tenantId);
  if (until === undefined) return 0;
  if (until <= now) {
    fullUntil.delete(tenantId);
    return 0;
  }
  return Math.ceil((until - now) / 1000);
}

/** Remember that the limiter refused the tenant for `retryAfterSeconds`. */
export function rememberFull(tenantId: string, retryAfterSeconds: number, now = Date.now()): void {
  if (fullUntil.size >= MAX_ENTRIES) fullUntil.clear();
  fullUntil.set(tenantId, now + retryAfterSeconds * 1000);
}

/** The bearer token's hash, the memo's key; undefined without a bearer token. */
async function tokenHash(authorization: string | null): Promise<string | undefined> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) return undefined;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(match[1]));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/**
 * Remember that the request with this `Authorization` header was refused by a rate limit for
 * `hit.retryAfter` seconds (called after authentication, so `hit` names the real tenant and caller).
 */
export async function rememberRefusal(authorization: string | null, hit: LimitHit, now = Date.now()): Promise<void> {
  const key = await tokenHash(authorization);
  if (!key) return;
  if (refusedCredentials.size >= MAX_ENTRIES) refusedCredentials.clear();
  const until = now + Math.max(1, hit.retryAfter) * 1000;
  const { retryAfter: _r, server: _s, ...rest } = hit;
  const answered = refusedCredentials.get(key)?.answered ?? 0;
  refusedCredentials.set(key, { until, recheckAt: Math.min(until, now + RECHECK_MS), hit: rest, answered });
}

/**
 * The refusal to answer for this request's token without doing anything else, with the seconds
 * left until its window ends and how long to hold it (`tarpitMs`), or undefined (nothing memoised
 * for it, or the memo lapsed). Free while nothing is memoised.
 */
export async function knownRefusal(request: Request, server: string, now = Date.now()): Promise<(LimitHit & { holdMs: number }) | undefined> {
  if (refusedCredentials.size === 0) return undefined;
  const key = await tokenHash(request.headers.get('authorization'));
  if (!key) return undefined;
  const refusal = refusedCredentials.get(key);
  if (!refusal) return undefined;
  if (refusal.recheckAt <= now) {
    refusedCredentials.delete(key);
    return undefined;
  }
  refusal.answered++;
  return { ...refusal.hit, server, retryAfter: Math.ceil((refusal.until - now) / 1000), holdMs: tarpitMs(refusal.answered) };
}

/** A tenant's limits (or one of its keys') changed: forget what this isolate memoised about the tenant. */
export function forgetRefusals(tenantId: string): void {
  fullUntil.delete(tenantId);
  for (const [key, refusal] of refusedCredentials) if (refusal.hit.tenant === tenantId) refusedCredentials.delete(key);
}
