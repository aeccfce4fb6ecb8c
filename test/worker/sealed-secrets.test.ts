import { describe, expect, it } from 'vitest';
import { KeyringError, keyringFrom, open, reseal, seal, SealError, sealedKeyId } from '../../src/crypto/sealed-secrets';

const key = (fill: number) => btoa(String.fromCharCode(...new Uint8Array(32).fill(fill)));
const ringOf = (spec: string | undefined) => keyringFrom({ SMCP_ENCRYPTION_KEYS: spec } as unknown as Env);

describe('sealed secrets (AES-256-GCM, keyring from SMCP_ENCRYPTION_KEYS)', () => {
  it('round-trips, names the key, and never contains the plaintext', async () => {
    const ring = await ringOf(`k1:${key(1)}`);
    const sealed = await seal(ring, 'Bearer upstream-secret-123', 'upstream:acme:github');
    expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('upstream-secret');
    expect(await open(ring, sealed, 'upstream:acme:github')).toBe('Bearer upstream-secret-123');
    // Fresh IV each time: equal plaintexts give different ciphertexts.
    expect(await seal(ring, 'Bearer upstream-secret-123', 'upstream:acme:github')).not.toBe(sealed);
  });

  it('detects tampering and refuses a value moved to another record', async () => {
    const ring = await ringOf(`k1:${key(1)}`);
    const sealed = await seal(ring, 'secret', 'upstream:acme:github');
    const parts = sealed.split('.');
    const body = parts[3]!;
    const flipped = (body[0] === 'A' ? 'B' : 'A') + body.slice(1);
    await expect(open(ring, [...parts.slice(0, 3), flipped].join('.'), 'upstream:acme:github')).rejects.toBeInstanceOf(SealError);
    await expect(open(ring, sealed, 'upstream:globex:github')).rejects.toThrow(/failed authentication/);
    await expect(open(ring, 'plaintext', 'upstream:acme:github')).rejects.toThrow(/not a sealed value/);
  });

  it('rotates: old values open under the new keyring and re-seal under the current key; a dropped key cannot open', async () => {
    const old = await ringOf(`k1:${key(1)}`);
    const sealed = await seal(old, 'secret', 'ctx');
    const rotated = await ringOf(`k2:${key(2)},k1:${key(1)}`);
    expect(rotated.current).toBe('k2');
    expect(await open(rotated, sealed, 'ctx')).toBe('secret');
    const resealed = await reseal(rotated, sealed, 'ctx');
    expect(resealed && sealedKeyId(resealed)).toBe('k2');
    expect(await reseal(rotated, resealed!, 'ctx')).toBeNull(); // already current
    const retired = await ringOf(`k2:${key(2)}`);
    expect(await open(retired, resealed!, 'ctx')).toBe('secret');
    await expect(open(retired, sealed, 'ctx')).rejects.toThrow(/not in the keyring/);
  });

  it('refuses a missing or malformed keyring', async () => {
    await expect(ringOf(undefined)).rejects.toBeInstanceOf(KeyringError);
    await expect(ringOf('k1:c2hvcnQ=')).rejects.toThrow(/32 bytes/);
    await expect(ringOf(`k1:${key(1)},k1:${key(2)}`)).rejects.toThrow(/twice/);
    await expect(ringOf(`bad id:${key(1)}`)).rejects.toThrow(/keyId/);
  });
});
