import { env, listDurableObjectIds, SELF } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { auditQuery, waitForEvents } from './audit-support';
import { MODERN, modernCall, textOf } from './modern-client';
import { adminCall, createKey, mcpPost, obtainToken, ORIGIN, rpcMessages, seedTenant } from './platform-client';

describe('MCP 2026-07-28 lane on /servers/<name>/mcp', () => {
  it('answers server/discover with versions, capabilities, server info and cache hints', async () => {
    const { id } = await seedTenant(['everything']);
    const { key } = await createKey(id, 'member');
    const { status, message } = await modernCall('everything', key, 'server/discover');
    expect(status).toBe(200);
    expect(message.result.supportedVersions).toContain(MODERN);
    expect(message.result.capabilities.tools).toBeDefined();
    expect(message.result._meta['io.modelcontextprotocol/serverInfo'].name).toBe('smcp-everything');
    expect(typeof message.result.ttlMs).toBe('number');
  });

  it('calls a tool with an API key and with an OAuth token, creating no session object', async () => {
    const { id, accounts } = await seedTenant(['notes', 'storage']);
    const { key } = await createKey(id, 'member');
    const before = (await listDurableObjectIds(env.STORAGE_SERVER)).length;
    const put = await modernCall('storage', key, 'tools/call', { name: 'kv_put', arguments: { key: 'a', value: 'modern' } });
    expect(put.status).toBe(200);
    expect(put.response.headers.get('mcp-session-id')).toBeNull();
    const { access_token } = await obtainToken(accounts.member!, 'storage');
    const got = await modernCall('storage', access_token, 'tools/call', { name: 'kv_get', arguments: { key: 'a' } });
    expect(JSON.parse(textOf(got.message))).toMatchObject({ key: 'a', value: 'modern' });
    // No session object: the storage server's Durable Object namespace holds no new object.
    expect((await listDurableObjectIds(env.STORAGE_SERVER)).length).toBe(before);
  });

  it('refuses, and audits once, requests without a token (none, or another scheme)', async () => {
    const marker = `no-token-${crypto.randomUUID()}`;
    for (const headers of [{}, { authorization: `Basic ${btoa('a:b')}` }] as Record<string, string>[]) {
      const { status, response } = await modernCall('notes', null, 'tools/list', {}, { headers: { ...headers, 'x-correlation-id': marker } });
      expect(status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('resource_metadata');
    }
    const since = Date.now() - 60_000;
    let events: any[] = [];
    for (let i = 0; i < 120 && events.length < 2; i++) {
      const res = await auditQuery(`/audit?tenant=_platform&action=auth.token&result=denied&from=${since}&limit=5000`);
      events = (res.body?.events ?? []).filter((e: any) => e.correlationId === marker);
      if (events.length < 2) await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 500));
    const res = await auditQuery(`/audit?tenant=_platform&action=auth.token&result=denied&from=${since}&limit=5000`);
    events = res.body.events.filter((e: any) => e.correlationId === marker);
    expect(events).toHaveLength(2);
    expect(events.every((e: any) => e.result === 'denied' && e.tenant === null && e.resource === '/servers/notes/mcp')).toBe(true);
  });

  it('an initialize answer never offers 2026-07-28', async () => {
    const { id } = await seedTenant(['notes']);
    const { key } = await createKey(id, 'member');
    const res = await mcpPost('notes', key, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: MODERN, capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    const [answer] = await rpcMessages(res);
    expect(answer.result.protocolVersion).not.toBe(MODERN);
    expect(res.headers.get('mcp-session-id')).toBeTruthy();
  });

  it("GET and DELETE naming 2026-07-28 get 405 (no stream, no sessions); other versions and bad envelopes are the SDK's wire errors", async () => {
    const { id } = await seedTenant(['notes']);
    const { key } = await createKey(id, 'member');
    for (const method of ['GET', 'DELETE']) {
      const res = await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, { method, headers: { authorization: `Bearer ${key}`, 'mcp-protocol-version': MODERN } });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
      expect((await res.json<any>()).error.code).toBe(-32600);
    }
    const mismatch = await modernCall('notes', key, 'server/discover', {}, { headers: { 'mcp-protocol-version': '2099-01-01' } });
    expect(mismatch.status).toBe(400);
    expect(mismatch.message.error.code).toBe(-32020);
    const unknown = await modernCall(
      'notes',
      key,
      'server/discover',
      { _meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } },
      { headers: { 'mcp-protocol-version': '2099-01-01' } },
    );
    expect(unknown.status).toBe(400);
    expect(unknown.message.error.code).toBe(-32022);
    expect(unknown.message.error.data.supported).toContain(MODERN);
    // Each wire-level rejection is one audit event (the SDK answered before any handler ran).
    const events = await waitForEvents(id, 'action=server/discover', (e) => e.length >= 2);
    await new Promise((r) => setTimeout(r, 500));
    const after = await waitForEvents(id, 'action=server/discover', () => true);
    expect(after).toHaveLength(2);
    expect(events.map((e: any) => e.details.code).sort()).toEqual([-32020, -32022]);
    expect(events.every((e: any) => e.result === 'error' && e.details.era === MODERN)).toBe(true);
  });

  it('applies role policy: read-only sees read-only tools, a write tool is refused, each audited once with era 2026-07-28', async () => {
    const { id } = await seedTenant(['storage']);
    const { key } = await createKey(id, 'read-only');
    const listed = await modernCall('storage', key, 'tools/list');
    const names = listed.message.result.tools.map((t: { name: string }) => t.name).sort();
    expect(names).toEqual(['files_get', 'files_list', 'kv_get', 'kv_list', 'sql_query']);
    const refused = await modernCall('storage', key, 'tools/call', { name: 'kv_put', arguments: { key: 'k', value: 'secret-value' } });
    expect(refused.message.error.code).toBe(-32003);
    const events = await waitForEvents(
      id,
      'server=storage',
      (e) => e.some((x: any) => x.action === 'tools/call') && e.some((x: any) => x.action === 'tools/list'),
    );
    const calls = events.filter((e: any) => e.action === 'tools/call');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      result: 'denied',
      resource: 'kv_put',
      session: null,
      details: { era: '2026-07-28', arguments: { key: 'k', value: '[redacted]' } },
    });
    expect(events.filter((e: any) => e.action === 'tools/list')).toHaveLength(1);
  });

  it('N stateless calls give exactly N audit events', async () => {
    const { id } = await seedTenant(['everything']);
    const { key } = await createKey(id, 'member');
    for (let i = 0; i < 5; i++)
      expect(textOf((await modernCall('everything', key, 'tools/call', { name: 'test_simple_text', arguments: {} })).message)).toContain('simple text');
    await waitForEvents(id, 'action=tools/call', (e) => e.length >= 5);
    await new Promise((r) => setTimeout(r, 1000)); // nothing more arrives
    const events = await waitForEvents(id, 'action=tools/call', () => true);
    expect(events).toHaveLength(5);
    expect(events.every((e: any) => e.resource === 'test_simple_text' && e.result === 'ok' && e.details?.era === '2026-07-28' && e.session === null)).toBe(
      true,
    );
  });

  it('lets a browser client from an allowed origin send the 2026-07-28 headers (CORS preflight)', async () => {
    const res = await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, mcp-protocol-version, mcp-method, mcp-name',
      },
    });
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    const allowed = res.headers.get('access-control-allow-headers')?.toLowerCase() ?? '';
    for (const h of ['mcp-protocol-version', 'mcp-method', 'mcp-name']) expect(allowed).toContain(h);
  });

  it('serves a 2026-07-28 request to a tenant upstream through the gateway (src/gateway/modern-upstream.ts): an unreachable upstream is a clear -32010, not a 500', async () => {
    const { id } = await seedTenant([]);
    const name = `up-${crypto.randomUUID().slice(0, 8)}`;
    expect((await adminCall('POST', `/tenants/${id}/upstreams`, { name, url: 'https://mcp.example.com/mcp' })).status).toBe(201);
    const { key } = await createKey(id, 'member');
    const urls: string[] = [];
    const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL) => {
      urls.push(input instanceof Request ? input.url : String(input));
      return new Response('upstream down (test stub)', { status: 503 });
    });
    try {
      const res = await modernCall(name, key, 'tools/list');
      expect(res.status).toBeLessThan(500);
      expect(res.message.error.code).toBe(-32010);
      expect(res.message.error.message).toContain(`Upstream "${name}" is unavailable`);
    } finally {
      spy.mockRestore();
    }
    expect(urls.some((u) => u.startsWith('https://mcp.example.com/'))).toBe(true); // the gateway tried the upstream
  });
});
