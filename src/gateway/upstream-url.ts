import { hostProblem } from './public-address';

/**
 * Which outbound URLs the platform may call (upstream URLs and their OAuth token URLs, checked at
 * registration and again before every fetch). In production a URL must be public HTTPS whose host
 * is a public unicast address or a public DNS name (`public-address.ts`, deny by default), so a
 * tenant cannot point the gateway at the platform's own network (SSRF). Local development and the
 * tests run upstreams on loopback, so `SMCP_ALLOW_PRIVATE_UPSTREAMS=true` lifts the address and
 * HTTPS rules (never set it in production).
 *
 * Limits: a public DNS name that resolves to a private address cannot be seen here (Workers has no
 * resolver API); the `global_fetch_strictly_public` compatibility flag (wrangler.jsonc) makes the
 * runtime refuse those fetches in production.
 */

/** Whether the deployment allows private and loopback upstreams (dev and tests only). */
export function privateUpstreamsAllowed(env: Env): boolean {
  return (env as { SMCP_ALLOW_PRIVATE_UPSTREAMS?: string }).SMCP_ALLOW_PRIVATE_UPSTREAMS === 'true';
}

/** Null when `raw` is an acceptable upstream URL, else the reason (shown to the admin). */
export function upstreamUrlProblem(raw: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a valid URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'only http(s) URLs are allowed';
  if (url.username || url.password) return 'credentials in the URL are not allowed; use the credentials field';
  if (url.hash) return 'a URL fragment is not allowed';
  if (allowPrivate) return null;
  if (url.protocol !== 'https:') return 'upstreams must use https';
  return hostProblem(url.hostname);
}
