import { base64url, hmacHex, safeEqual } from '../crypto/secrets';

/**
 * Signed, short-lived cookies for the sign-in step of `/authorize`. Values are
 * `<base64url JSON>.<expiry>.<HMAC>`, bound to a purpose so one cookie cannot stand in for another.
 * Cookies are `__Host-` prefixed, Secure, HttpOnly and SameSite=Lax.
 */

function b64url(text: string): string {
  return base64url(new TextEncoder().encode(text));
}

function unb64url(value: string): string {
  const binary = atob(value.replace(/-/g, '+').replace(/_/g, '/'));
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

/** Seal `payload` for `purpose`, valid for `ttlSeconds`. */
export async function sealCookieValue(secret: string, purpose: string, payload: unknown, ttlSeconds: number): Promise<string> {
  const body = `${b64url(JSON.stringify(payload))}.${Math.floor(Date.now() / 1000) + ttlSeconds}`;
  return `${body}.${await hmacHex(secret, `${purpose}\n${body}`)}`;
}

/** The payload if the value is authentic, unexpired and for `purpose`; otherwise null. */
export async function openCookieValue(secret: string, purpose: string, value: string | null): Promise<unknown> {
  const parts = value?.split('.') ?? [];
  if (parts.length !== 3) return null;
  const [data, exp, tag] = parts as [string, string, string];
  if (!(await safeEqual(await hmacHex(secret, `${purpose}\n${data}.${exp}`), tag))) return null;
  if (!/^\d+$/.test(exp) || Number(exp) < Date.now() / 1000) return null;
  try {
    return JSON.parse(unb64url(data));
  } catch {
    return null;
  }
}

/** One cookie's value from the request, or null. */
export function readCookie(request: Request, name: string): string | null {
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** A Set-Cookie value for a host-only, HttpOnly, Secure, SameSite=Lax cookie (Max-Age 0 clears it). */
export function setCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=${maxAgeSeconds}`;
}
