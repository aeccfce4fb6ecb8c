import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { REGISTRATION_LIMITS, UNUSED_REGISTRATION_SECONDS } from '../../src/oauth/client-registration';
import { ORIGIN, obtainToken, registerClient, seedTenant } from './platform-client';

/**
 * Finding 15 of the security review: a 60 KB `client_name` and 1,000 redirect URIs were stored,
 * and registrations nobody used stayed for 90 days.
 */

const base = { redirect_uris: ['http://127.0.0.1:9/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] };
const register = (body: Record<string, unknown>) =>
  SELF.fetch(`${ORIGIN}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function expiryOf(clientId: string): Promise<number | undefined> {
  const { keys } = await env.OAUTH_KV.list({ prefix: `client:${clientId}` });
  return keys.find((k) => k.name === `client:${clientId}`)?.expiration;
}

describe('client registration bounds (security review finding 15)', () => {
  it('refuses oversized metadata with 400 invalid_client_metadata and stores nothing', async () => {
    const before = (await env.OAUTH_KV.list({ prefix: 'client:' })).keys.length;
    const refused: Array<[string, Record<string, unknown>]> = [
      ['60 KB client_name', { ...base, client_name: 'x'.repeat(60_000) }],
      ['client_name one over', { ...base, client_name: 'n'.repeat(REGISTRATION_LIMITS.clientName + 1) }],
      ['1,000 redirect URIs', { ...base, redirect_uris: Array.from({ length: 1000 }, (_, i) => `http://127.0.0.1:9/cb${i}`) }],
      ['11 redirect URIs', { ...base, redirect_uris: Array.from({ length: REGISTRATION_LIMITS.redirectUris + 1 }, (_, i) => `http://127.0.0.1:9/cb${i}`) }],
      ['a 3 KB redirect URI', { ...base, redirect_uris: [`http://127.0.0.1:9/${'p'.repeat(3000)}`] }],
      ['a long logo_uri', { ...base, logo_uri: `https://example.com/${'l'.repeat(3000)}` }],
      ['many contacts', { ...base, contacts: Array.from({ length: 50 }, (_, i) => `c${i}@example.com`) }],
      [
        'total size',
        {
          ...base,
          client_uri: `https://example.com/${'u'.repeat(2000)}`,
          tos_uri: `https://example.com/${'t'.repeat(2000)}`,
          policy_uri: `https://example.com/${'p'.repeat(2000)}`,
          software_id: 's'.repeat(2000),
          software_version: 'v'.repeat(1000),
        },
      ],
    ];
    for (const [label, body] of refused) {
      const res = await register(body);
      expect(res.status, label).toBe(400);
      const error = (await res.json()) as { error: string; error_description: string };
      expect(error.error, label).toBe('invalid_client_metadata');
      expect(error.error_description, label).toBeTruthy();
    }
    expect((await env.OAUTH_KV.list({ prefix: 'client:' })).keys.length).toBe(before);
  });

  it('accepts metadata at the limits', async () => {
    const res = await register({
      ...base,
      client_name: 'n'.repeat(REGISTRATION_LIMITS.clientName),
      redirect_uris: Array.from({ length: REGISTRATION_LIMITS.redirectUris }, (_, i) => `http://127.0.0.1:9/cb${i}`),
    });
    expect(res.status).toBe(201);
  });

  it('forgets a registration unused for a day, and keeps one that was used for the full lifetime', async () => {
    const now = Math.floor(Date.now() / 1000);
    const unused = await registerClient('never used');
    const unusedExpiry = await expiryOf(unused.client_id);
    expect(unusedExpiry).toBeDefined();
    expect(unusedExpiry!).toBeLessThanOrEqual(now + UNUSED_REGISTRATION_SECONDS + 5);

    const t = await seedTenant(['notes'], ['member']);
    const used = await registerClient('used');
    await obtainToken(t.accounts.member!, 'notes', 'mcp', used);
    const usedExpiry = await expiryOf(used.client_id);
    expect(usedExpiry!).toBeGreaterThan(now + 30 * 86_400);
  });
});
