import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { auditQuery } from './audit-support';
import { adminCall, createKey, mcpPost, ORIGIN, rpcMessages, seedTenant } from './platform-client';

/**
 * API keys skip the OAuth provider's per-request checks on their way to the gate
 * (src/oauth/oauth-surface.ts, `serve`). The direct path must answer every key exactly as the
 * provider did: a refused key gets the provider's own 401 challenge, its refusal audited exactly
 * once; anything the provider would refuse before validation (no bearer, a malformed header, an
 * OAuth-shaped token) is still the provider's answer; and a valid key presented in any form the
 * provider accepts reaches the gate with the key's identity and nothing more.
 */

const INIT = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'direct', version: '1' } },
};

function post(authorization: string | null, marker: string, url = `${ORIGIN}/servers/notes/mcp`, extra: Record<string, string> = {}): Promise<Response> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'x-correlation-id': marker,
    ...extra,
  };
  if (authorization !== null) headers.authorization = authorization;
  return SELF.fetch(url, { method: 'POST', headers, body: JSON.stringify(INIT) });
}

/** Audit events carrying `marker`, after delivery settled (nothing more arrives). */
async function eventsOf(path: string, marker: string): Promise<any[]> {
  const read = async () => ((await auditQuery(`${path}&limit=5000`)).body?.events ?? []).filter((e: any) => e.correlationId === marker);
  for (let i = 0; i < 120 && (await read()).length === 0; i++) await new Promise((r) => setTimeout(r, 250));
  await new Promise((r) => setTimeout(r, 500));
  return read();
}

const marker = () => `direct-${crypto.randomUUID()}`;
const since = Date.now() - 60_000;

describe('API keys on the direct path to the gate', () => {
  it('answers a refused key with the provider challenge, audited exactly once, for every way a key is refused', async () => {
    const { id } = await seedTenant(['notes']);
    const revoked = await createKey(id, 'member');
    expect((await adminCall('DELETE', `/tenants/${id}/keys/${revoked.id}`)).status).toBe(204);
    const expired = await createKey(id, 'member');
    await adminCall('POST', `/tenants/${id}/keys/${expired.id}/rotate`, { graceHours: 0 });
    const live = await createKey(id, 'member');
    const forged = live.key.slice(0, -4) + (live.key.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    // The provider's challenge for a token it rejects, as an OAuth-shaped bad token gets it.
    const oauthChallenge = (await post('Bearer not-a-key-at-all', marker())).headers.get('www-authenticate');
    expect(oauthChallenge).toContain('error="invalid_token"');
    const cases: [string, string, string][] = [
      ['revoked', revoked.key, 'api key revoked'],
      ['rotated out', expired.key, 'api key expired'],
      ['forged secret', forged, 'api key unknown'],
      ['malformed', 'smcp_nope', 'api key malformed'],
      ['another tenant id', live.key.replace(`smcp_${id}_`, 'smcp_other-tenant_'), 'api key unknown'],
    ];
    for (const [what, key, reason] of cases) {
      const m = marker();
      const res = await post(`Bearer ${key}`, m);
      expect(res.status, what).toBe(401);
      expect(res.headers.get('www-authenticate'), what).toBe(oauthChallenge);
      const events = await eventsOf(`/audit?tenant=_platform&action=auth.api_key&result=denied&from=${since}`, m);
      expect(events, what).toHaveLength(1);
      expect(events[0].details.reason, what).toBe(reason);
    }
  });

  it('leaves to the provider what it refuses before validation, and takes every form of a valid key it accepts', async () => {
    const { id } = await seedTenant(['notes']);
    const { key } = await createKey(id, 'member');
    // Not a bearer the provider parses: a challenge without invalid_token, never the gate.
    for (const authorization of [`Basic ${key}`, `Bearer ${key}, extra`, `Bearer`, `Bearer ${key} trailing`, `${key}`]) {
      const res = await post(authorization, marker());
      expect(res.status, authorization).toBe(401);
      expect(res.headers.get('www-authenticate'), authorization).not.toContain('invalid_token');
    }
    // Every spelling the provider accepts (scheme in any case, spaces or a tab) and a query string: the key's session opens.
    for (const [authorization, url] of [
      [`bearer ${key}`, undefined],
      [`BEARER\t${key}`, undefined],
      [`Bearer   ${key}`, undefined],
      [`Bearer ${key}`, `${ORIGIN}/servers/notes/mcp?x=1`],
    ] as const) {
      const res = await post(authorization, marker(), url);
      expect(res.status, authorization).toBe(200);
      expect(res.headers.get('mcp-session-id')).toMatch(/^[0-9a-f]{64}\.[0-9a-f]{32}$/);
      expect((await rpcMessages(res))[0].result.serverInfo.name).toBeTruthy();
    }
  });

  it('keeps the gate checks for a valid key: server not enabled, foreign origin, and the CORS decision', async () => {
    const { id } = await seedTenant(['notes']);
    const { key } = await createKey(id, 'member');
    const off = await post(`Bearer ${key}`, marker(), `${ORIGIN}/servers/everything/mcp`);
    expect(off.status).toBe(403);
    const foreign = await post(`Bearer ${key}`, marker(), undefined, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    // An allowed origin gets the platform's CORS headers only (the provider's wildcard ones never appear).
    const allowed = await post(`Bearer ${key}`, marker(), undefined, { origin: 'http://inspector.test:6274' });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://inspector.test:6274');
    expect(allowed.headers.get('access-control-allow-methods')).toBeNull();
    expect(allowed.headers.get('access-control-allow-headers')).toBeNull();
    await allowed.body?.cancel();
    expect((await mcpPost('notes', key, INIT)).status).toBe(200);
  });
});
