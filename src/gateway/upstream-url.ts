/**
 * Which upstream URLs the platform may call. In production an upstream (or an OAuth token
 * endpoint) must be public HTTPS: loopback, private, link-local and similar addresses are refused
 * so a tenant cannot point the gateway at the platform's own network (SSRF). Local development and
 * the tests run upstreams on loopback, so `SMCP_ALLOW_PRIVATE_UPSTREAMS=true` lifts the address
 * and HTTPS rules (never set it in production).
 *
 * Limits: only literal addresses and well-known private names are recognised; a public DNS name
 * that resolves to a private address is not (Workers has no resolver API). On Cloudflare, Workers
 * subrequests cannot reach private networks anyway; this check is the platform's own layer.
 */

/** Whether the deployment allows private and loopback upstreams (dev and tests only). */
export function privateUpstreamsAllowed(env: Env): boolean {
  return (env as { SMCP_ALLOW_PRIVATE_UPSTREAMS?: string }).SMCP_ALLOW_PRIVATE_UPSTREAMS === 'true';
}

function ipv4Private(host: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return (
    a === 0 || a === 10 || a === 127 || a >= 224 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19))
  );
}

function ipv6Private(host: string): boolean {
  if (!host.startsWith('[')) return false;
  const h = host.slice(1, -1).toLowerCase();
  if (h === '::' || h === '::1') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped) return ipv4Private(mapped[1]!);
  if (/^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(h)) return true; // mapped IPv4 in hex form: refuse outright
  const first = parseInt(h.split(':')[0] || '0', 16);
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xff00) === 0xff00;
}

const PRIVATE_NAMES = /(^|\.)(localhost|local|internal|intranet|lan|home\.arpa)$/i;

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
  const host = url.hostname;
  if (PRIVATE_NAMES.test(host) || !host.includes('.') && !host.startsWith('[')) return `"${host}" is a private or loopback address`;
  if (ipv4Private(host) || ipv6Private(host)) return `"${host}" is a private or loopback address`;
  return null;
}
