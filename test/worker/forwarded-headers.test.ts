import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { waitForEvents } from './audit-support';
import { call, createKey, mcpPost, ORIGIN, openSession, rpcMessages, seedTenant } from './platform-client';

/**
 * Issue 13 finding 1: the Agents SDK obeys some request headers as internal instructions inside
 * the session object (`x-cf-agents-subagent-url` routed a `notes` session's messages into a
 * `storage` facet). The gate forwards client headers by allowlist only; these tests send every
 * header the SDK reads (grep `headers.get(` in node_modules/agents/dist) on every route into an
 * object and check nothing but the enabled server answers.
 */

const STORAGE_TOOLS = ['kv_put', 'kv_get', 'kv_list', 'kv_delete', 'sql_query'];

/** Headers the SDK (agents 0.32) or its embedded server framework treat as instructions, and other internal ones. */
function attackHeaders(sub: string): Array<Record<string, string>> {
  const props = btoa(JSON.stringify({ tenantId: 'other', role: 'admin' }));
  const forged = btoa(JSON.stringify({ tenantId: 'x', userId: 'u', role: 'admin', clientId: 'c', kind: 'api-key', server: 'storage' }));
  return [
    { 'x-cf-agents-subagent-url': `${ORIGIN}/sub/storage-server/${sub}` },
    { 'x-cf-agents-subagent-url': `${ORIGIN}/servers/notes/mcp/sub/storage-server/${sub}` },
    { 'X-CF-Agents-Subagent-URL': `http://evil.test/agents/notes-server/x/sub/storage-server/${sub}` },
    { 'x-agents-lifecycle-props': props },
    { 'x-partykit-room': `streamable-http:${sub}`, 'x-partykit-namespace': 'storage-server', 'x-partykit-props': props },
    { 'x-agent-name': sub, 'x-agent-id': sub, 'x-agent-sig': 'AA', 'x-agent-sig-ts': String(Date.now()) },
    { 'cf-mcp-method': 'GET', 'cf-mcp-message': btoa('{"jsonrpc":"2.0","id":9,"method":"tools/list"}') },
    { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13', 'sec-websocket-protocol': 'storage' },
    { 'x-session-affinity': sub, 'cf-aig-run-id': sub, 'cf-browser-session-id': sub, 'x-cf-harness-token': sub },
    { 'x-smcp-principal': forged, 'X-SMCP-Client-IP': '10.0.0.1' },
  ];
}

function names(message: any): string[] {
  return (message?.result?.tools ?? []).map((t: { name: string }) => t.name);
}

function post(token: string, body: unknown, headers: Record<string, string>, session?: string): Promise<Response> {
  const h: Record<string, string> = {
    ...headers,
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-06-18',
  };
  if (session) h['mcp-session-id'] = session;
  return SELF.fetch(`${ORIGIN}/servers/notes/mcp`, { method: 'POST', headers: h, body: JSON.stringify(body) });
}

async function storageUntouched(tenant: string): Promise<void> {
  const listed = await env.DATA_KV.list({ prefix: `tenant-${tenant}:` });
  expect(listed.keys.map((k) => k.name)).toEqual([]);
}

describe('client headers never reach the framework inside the session object', () => {
  it('Streamable HTTP POST: with every SDK-internal header, a notes-only tenant sees and calls only notes tools', async () => {
    const tenant = await seedTenant(['notes']);
    for (const role of ['member', 'read-only'] as const) {
      const { key } = await createKey(tenant.id, role);
      for (const headers of attackHeaders(crypto.randomUUID())) {
        const label = `${role} ${JSON.stringify(headers).slice(0, 80)}`;
        const init = await post(
          key,
          {
            jsonrpc: '2.0',
            id: 0,
            method: 'initialize',
            params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'attacker', version: '1' } },
          },
          headers,
        );
        expect(init.status, label).toBe(200);
        const session = init.headers.get('mcp-session-id')!;
        const [hello] = await rpcMessages(init);
        expect(hello.result.serverInfo.name, label).not.toBe('smcp-storage');
        expect((await post(key, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers, session)).status, label).toBe(202);

        const list = await post(key, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, headers, session);
        expect(list.status, label).toBe(200);
        const listed = names((await rpcMessages(list)).find((m) => m.id === 1));
        expect(listed, label).toContain('list_notes');
        for (const tool of STORAGE_TOOLS) expect(listed, label).not.toContain(tool);

        const put = await post(
          key,
          { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'kv_put', arguments: { key: 'stolen', value: 'x' } } },
          headers,
          session,
        );
        expect(put.status, label).toBeLessThan(500);
        const answer = (await rpcMessages(put)).find((m) => m.id === 2);
        expect(answer?.error ?? answer?.result?.isError, label).toBeTruthy();
        const sql = await post(
          key,
          { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'sql_query', arguments: { sql: 'SELECT 42 AS answer' } } },
          headers,
          session,
        );
        expect(sql.status, label).toBeLessThan(500);
        expect(JSON.stringify(await rpcMessages(sql)), label).not.toContain('42');
      }
    }
    await storageUntouched(tenant.id);
    // The session's events reach the trail; none names a storage tool or server.
    const events = await waitForEvents(tenant.id, 'server=notes', (e) => e.filter((x) => x.action === 'tools/list').length >= 20);
    expect(events.filter((e) => STORAGE_TOOLS.some((t) => JSON.stringify(e).includes(t)) && e.result === 'ok')).toEqual([]);
    expect((await waitForEvents(tenant.id, 'server=storage', () => true)).length).toBe(0);
  });

  it('Streamable HTTP GET and DELETE and legacy SSE carry none of them into the object either', async () => {
    const tenant = await seedTenant(['notes']);
    const { key } = await createKey(tenant.id, 'member');
    for (const headers of attackHeaders(crypto.randomUUID())) {
      const label = JSON.stringify(headers).slice(0, 80);
      const session = await openSession('notes', key);
      const get = await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
        method: 'GET',
        headers: { ...headers, authorization: `Bearer ${key}`, 'mcp-session-id': session, accept: 'text/event-stream', 'mcp-protocol-version': '2025-06-18' },
      });
      expect(get.status, label).toBe(200);
      await get.body?.cancel();
      const listed = await call('notes', key, session, 'tools/list');
      expect(names(listed.message), label).toContain('list_notes');
      for (const tool of STORAGE_TOOLS) expect(names(listed.message), label).not.toContain(tool);
      const del = await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
        method: 'DELETE',
        headers: { ...headers, authorization: `Bearer ${key}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
      });
      expect(del.status, label).toBe(204);
      expect((await mcpPost('notes', key, { jsonrpc: '2.0', id: 1, method: 'ping' }, session)).status, label).toBe(404);

      // Legacy SSE: the stream and its message endpoint.
      const sse = await SELF.fetch(`${ORIGIN}/servers/notes/sse`, { headers: { ...headers, authorization: `Bearer ${key}`, accept: 'text/event-stream' } });
      expect(sse.status, label).toBe(200);
      const reader = sse.body!.getReader();
      let text = '';
      const decoder = new TextDecoder();
      const read = async (until: (t: string) => boolean) => {
        while (!until(text)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended: ${text}`);
          text += decoder.decode(value);
        }
      };
      await read((t) => t.includes('event: endpoint'));
      const endpoint = /data: (\S+)/.exec(text)![1]!;
      const send = (body: unknown) =>
        SELF.fetch(`${ORIGIN}${endpoint}`, {
          method: 'POST',
          headers: { ...headers, authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      expect(
        (
          await send({
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'a', version: '1' } },
          })
        ).status,
        label,
      ).toBe(202);
      await read((t) => t.includes('"id":1'));
      expect(text, label).not.toContain('smcp-storage');
      expect((await send({ jsonrpc: '2.0', method: 'notifications/initialized' })).status, label).toBe(202);
      expect((await send({ jsonrpc: '2.0', id: 2, method: 'tools/list' })).status, label).toBe(202);
      await read((t) => t.includes('"id":2'));
      expect(text, label).toContain('list_notes');
      for (const tool of STORAGE_TOOLS) expect(text, label).not.toContain(`"${tool}"`);
      expect(
        (await send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'kv_put', arguments: { key: 'stolen', value: 'x' } } })).status,
        label,
      ).toBe(202);
      await read((t) => t.includes('"id":3'));
      await reader.cancel();
    }
    await storageUntouched(tenant.id);
  });

  it('a client Upgrade header is never a way in: a clear 4xx or the normal answer, never 5xx, never storage', async () => {
    const tenant = await seedTenant(['notes']);
    const { key } = await createKey(tenant.id, 'member');
    const upgrade = { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };
    const session = await openSession('notes', key);
    const attempts = [
      post(
        key,
        { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'a', version: '1' } } },
        upgrade,
      ),
      post(key, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, upgrade, session),
      SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
        headers: { ...upgrade, authorization: `Bearer ${key}`, 'mcp-session-id': session, accept: 'text/event-stream' },
      }),
      SELF.fetch(`${ORIGIN}/servers/notes/sse`, { headers: { ...upgrade, authorization: `Bearer ${key}`, accept: 'text/event-stream' } }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBeLessThan(500);
      const text = res.status === 200 && res.headers.get('content-type')?.includes('event-stream') ? '' : await res.text();
      if (res.status === 200) await res.body?.cancel().catch(() => undefined);
      for (const tool of STORAGE_TOOLS) expect(text).not.toContain(tool);
    }
    await storageUntouched(tenant.id);
  });
});
