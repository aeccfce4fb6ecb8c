/**
 * Small WebCrypto helpers for secrets: comparisons that do not leak timing, random tokens and HMACs.
 * Everything secret in the platform goes through here so there is one place to audit.
 */

const encoder = new TextEncoder();

/** Hex encoding of bytes, for identifiers and MACs that travel in headers and URLs. */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = '';
  for (let i = 0; i < view.length; i++) out += HEX_BYTE[view[i]!];
  return out;
}

/** Two hex digits per byte value (toHex runs on every MCP request, for the API key's lookup hash). */
const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** Unpadded base64url of bytes, for secrets and values that travel in URLs, headers and cookies. */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** `n` cryptographically random bytes as hex. */
export function randomHex(n: number): string {
  return toHex(crypto.getRandomValues(new Uint8Array(n)));
}

/** SHA-256 of a string, as bytes. */
export async function sha256(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest('SHA-256', encoder.encode(text));
}

/**
 * Constant-time string equality. Both sides are hashed first so that neither the content nor the
 * length of the secret leaks through timing.
 */
export async function safeEqual(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([sha256(a), sha256(b)]);
  return crypto.subtle.timingSafeEqual(ha, hb);
}

/**
 * Constant-time equality of two values whose length is public (a MAC tag of a fixed format, already
 * checked by the caller's pattern): compared byte for byte without hashing them first. Different
 * lengths are simply unequal.
 */
export function fixedLengthEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return crypto.subtle.timingSafeEqual(encoder.encode(a), encoder.encode(b));
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    hmacKeys.set(secret, key);
  }
  return key;
}

/** HMAC-SHA-256 of `message` under `secret`, as hex. Keys are imported once per isolate. */
export async function hmacHex(secret: string, message: string): Promise<string> {
  return toHex(await crypto.subtle.sign('HMAC', await hmacKey(secret), encoder.encode(message)));
}
