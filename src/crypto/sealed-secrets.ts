import { base64url } from './secrets';

/**
 * Secrets at rest: anything secret the platform stores for a tenant (upstream credentials, webhook
 * secrets) is sealed with AES-256-GCM under a key from the Worker secret `SMCP_ENCRYPTION_KEYS`.
 *
 * The secret holds a keyring, `k2:<base64 32 bytes>,k1:<base64 32 bytes>`: the first key is the
 * current one (it seals), the others only open. A sealed value is `v1.<keyId>.<iv>.<ciphertext>`
 * (base64url), so it names the key that opened it and rotation is: put a new key first, re-seal
 * everything (`POST /admin/api/secrets/rotate`), then drop the old key. The caller passes
 * associated data (e.g. `upstream:<tenant>:<name>`) that GCM authenticates but does not store, so a
 * sealed value copied onto another row, tenant or purpose fails to open.
 */

const VERSION = 'v1';
const KEY_ID = /^[A-Za-z0-9_-]{1,16}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The parsed keyring: `current` seals, every key in `keys` opens. */
export interface Keyring {
  current: string;
  keys: Map<string, CryptoKey>;
}

/** Raised when the keyring is missing or malformed; callers answer 503 "not configured". */
export class KeyringError extends Error {}

/** Raised when a sealed value is malformed, names an unknown key, or fails authentication. */
export class SealError extends Error {}

function fromBase64(text: string): Uint8Array {
  const normal = text.replace(/-/g, '+').replace(/_/g, '/');
  return Uint8Array.from(atob(normal + '='.repeat((4 - (normal.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

const rings = new Map<string, Promise<Keyring>>();

async function parseKeyring(spec: string): Promise<Keyring> {
  const keys = new Map<string, CryptoKey>();
  let current: string | undefined;
  for (const entry of spec
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const colon = entry.indexOf(':');
    const id = entry.slice(0, colon);
    if (colon < 1 || !KEY_ID.test(id)) throw new KeyringError('SMCP_ENCRYPTION_KEYS: each entry must be <keyId>:<base64 32 bytes>');
    if (keys.has(id)) throw new KeyringError(`SMCP_ENCRYPTION_KEYS: key id "${id}" appears twice`);
    let raw: Uint8Array;
    try {
      raw = fromBase64(entry.slice(colon + 1));
    } catch {
      throw new KeyringError(`SMCP_ENCRYPTION_KEYS: key "${id}" is not base64`);
    }
    if (raw.byteLength !== 32) throw new KeyringError(`SMCP_ENCRYPTION_KEYS: key "${id}" must be 32 bytes (AES-256)`);
    keys.set(id, await crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']));
    current ??= id;
  }
  if (!current) throw new KeyringError('SMCP_ENCRYPTION_KEYS is empty');
  return { current, keys };
}

/**
 * The keyring from `SMCP_ENCRYPTION_KEYS`, imported once per isolate. Throws KeyringError when the
 * secret is missing or malformed: the platform refuses to store or use secrets rather than fall
 * back to plaintext.
 */
export function keyringFrom(env: Env): Promise<Keyring> {
  const spec = (env as { SMCP_ENCRYPTION_KEYS?: string }).SMCP_ENCRYPTION_KEYS?.trim();
  if (!spec) return Promise.reject(new KeyringError('Platform not configured: SMCP_ENCRYPTION_KEYS is missing'));
  let ring = rings.get(spec);
  if (!ring) {
    ring = parseKeyring(spec);
    ring.catch(() => rings.delete(spec));
    rings.set(spec, ring);
  }
  return ring;
}

/** Whether `SMCP_ENCRYPTION_KEYS` is set and valid (for /health and early refusals). */
export async function keyringConfigured(env: Env): Promise<boolean> {
  return keyringFrom(env).then(
    () => true,
    () => false,
  );
}

/** Seal `plaintext` under the current key, bound to `context` (associated data). */
export async function seal(ring: Keyring, plaintext: string, context: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = ring.keys.get(ring.current)!;
  const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(context) }, key, encoder.encode(plaintext));
  return [VERSION, ring.current, base64url(iv), base64url(new Uint8Array(data))].join('.');
}

/** Open a sealed value; throws SealError when it was tampered with, bound to another context, or its key is gone. */
export async function open(ring: Keyring, sealed: string, context: string): Promise<string> {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) throw new SealError('not a sealed value');
  const [, keyId, iv, data] = parts as [string, string, string, string];
  const key = ring.keys.get(keyId);
  if (!key) throw new SealError(`sealed under key "${keyId}", which is not in the keyring`);
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromBase64(iv), additionalData: encoder.encode(context) }, key, fromBase64(data));
    return decoder.decode(plain);
  } catch {
    throw new SealError('sealed value failed authentication (tampered, or bound to another record)');
  }
}

/** The key id a sealed value names (null when malformed), so rotation can skip current ones. */
export function sealedKeyId(sealed: string): string | null {
  const parts = sealed.split('.');
  return parts.length === 4 && parts[0] === VERSION ? parts[1]! : null;
}

/** Re-seal under the current key when sealed under an older one; returns null when already current. */
export async function reseal(ring: Keyring, sealed: string, context: string): Promise<string | null> {
  if (sealedKeyId(sealed) === ring.current) return null;
  return seal(ring, await open(ring, sealed, context), context);
}
