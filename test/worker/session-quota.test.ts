import { env, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { waitForEvents } from './audit-support';
import { adminCall, call, createKey, mcpPost, notesSessionObject, openSession, ORIGIN, rpcMessages, seedTenant } from './platform-client';

const INIT = (id: unknown = 0) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'quota-test', version: '1' } },
});
const limiter = (tenant: string) => env.TENANT_LIMITER.get(env.TENANT_LIMITER.idFromName(`tenant:${tenant}`));

function withoutId(): Record<string, unknown> {
  const { id: _drop, ...rest } = INIT();
  return rest;
}

describe('initialize sent as a notification (issue 13 finding 3)', () => {
  it('is refused with a JSON-RPC error before any session object exists, in every shape', async () => {
    const { id } = await seedTenant(['notes']);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { maxSessionsPerUser: 2 } })).status).toBe(200);
    const { key } = await createKey(id, 'member');
    const before = (await listDurableObjectIds(env.NOTES_SERVER)).length;
    const variants: unknown[] = [
      withoutId(),
      { ...INIT(), id: null },
      [withoutId()],
      [withoutId(), { jsonrpc: '2.0', id: 5, method: 'ping' }],
      [INIT(1), withoutId()],
      { ...withoutId(), id: null, error: { code: 1, message: 'x' } },
      { ...withoutId(), result: {} },
      { ...INIT(), id: true },
      { ...INIT(), id: { nested: 1 } },
    ];
    for (let round = 0; round < 3; round++) {
      for (const body of variants) {
        const res = await mcpPost('notes', key, body);
        const label = JSON.stringify(body).slice(0, 120);
        expect(res.status, label).toBe(400);
        const answer = (await res.json()) as any;
        expect(answer.jsonrpc, label).toBe('2.0');
        expect(answer.error.code, label).toBe(-32600);
        expect(res.headers.get('mcp-session-id'), label).toBeNull();
      }
    }
    expect((await listDurableObjectIds(env.NOTES_SERVER)).length).toBe(before);
    expect(await limiter(id).openSessions()).toBe(0);
    // The quota of 2 is untouched: two real sessions open and work.
    for (const s of [await openSession('notes', key), await openSession('notes', key)]) expect((await call('notes', key, s, 'tools/list')).status).toBe(200);
    expect(await limiter(id).openSessions()).toBe(2);
    // The legacy message endpoint refuses it too.
    const sse = await SELF.fetch(`${ORIGIN}/servers/notes/sse`, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } });
    const reader = sse.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const endpoint = /data: (\S+)/.exec(first)![1]!;
    const posted = await SELF.fetch(`${ORIGIN}${endpoint}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(withoutId()),
    });
    expect(posted.status).toBe(400);
    expect(((await posted.json()) as any).error.code).toBe(-32600);
    await reader.cancel();
  });
});

describe('session quotas never lock a client out by its own old sessions (issue 13 finding 7)', () => {
  it('at the per-user quota ends the least recently used session of that key for real, audited; other keys keep theirs', async () => {
    const { id } = await seedTenant(['notes']);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { maxSessionsPerUser: 2 } })).status).toBe(200);
    const mine = await createKey(id, 'member');
    const other = await createKey(id, 'member');
    const theirs = await openSession('notes', other.key);
    const s1 = await openSession('notes', mine.key);
    const s2 = await openSession('notes', mine.key);
    await new Promise((r) => setTimeout(r, 20));
    expect((await call('notes', mine.key, s1, 'tools/call', { name: 'add_note', arguments: { title: 'keep me' } })).status).toBe(200); // s2 is now the least recently used

    // A client reconnecting without DELETE, over and over, is never refused.
    const opened: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await mcpPost('notes', mine.key, INIT());
      expect(res.status, `reconnect ${i}`).toBe(200);
      opened.push(res.headers.get('mcp-session-id')!);
      await rpcMessages(res);
    }
    expect(await limiter(id).openSessions()).toBe(3); // 2 of mine + 1 of the other key
    const latest = opened.slice(-2);
    for (const s of [s1, s2, ...opened.slice(0, 3)])
      expect((await mcpPost('notes', mine.key, { jsonrpc: '2.0', id: 1, method: 'ping' }, s)).status, 'evicted session').toBe(404);
    for (const s of latest) expect((await mcpPost('notes', mine.key, { jsonrpc: '2.0', id: 1, method: 'ping' }, s)).status, 'newest sessions').toBe(200);
    expect((await call('notes', other.key, theirs, 'tools/list')).status).toBe(200);

    // The evicted object really ends: its initialize request is gone at once, and its storage with the teardown alarm.
    const stub = notesSessionObject(s2);
    expect(await runInDurableObject(stub, (_i, state) => state.storage.get('initializeRequest'))).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1200));
    await runDurableObjectAlarm(stub).catch(() => undefined);
    const left = await runInDurableObject(notesSessionObject(s2), async (_i, state) => [...(await state.storage.list()).keys()]);
    expect(left).not.toContain('smcp:owner');
    expect(left).not.toContain('initializeRequest');

    const events = await waitForEvents(id, 'action=session.evicted', (e) => e.length >= 5);
    expect(events).toHaveLength(5);
    for (const e of events) {
      expect(e.result).toBe('ok');
      expect(e.server).toBe('notes');
      expect(e.details.owner).toBe(`key:${mine.id}`);
    }
    expect(events.map((e) => e.session)).toContain(s2.split('.')[0]);
  });

  it("a tenant full of other keys' sessions still refuses, with Retry-After until the earliest idle expiry; a key holding one of them evicts its own", async () => {
    const { id } = await seedTenant(['notes']);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { maxSessions: 2 } })).status).toBe(200);
    const [k1, k2, k3] = [(await createKey(id, 'member')).key, (await createKey(id, 'member')).key, (await createKey(id, 'member')).key];
    const s1 = await openSession('notes', k1);
    await openSession('notes', k2);
    const refused = await mcpPost('notes', k3, INIT());
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    // Default idle time 30 min (+ 1 min slack): the earliest slot frees at the first session's idle expiry.
    expect(retryAfter).toBeGreaterThan(29 * 60);
    expect(retryAfter).toBeLessThanOrEqual(31 * 60);
    expect(((await refused.json()) as any).error.message).toMatch(/this tenant may have 2 concurrent sessions/);

    const again = await mcpPost('notes', k1, INIT());
    expect(again.status).toBe(200);
    await rpcMessages(again);
    expect((await mcpPost('notes', k1, { jsonrpc: '2.0', id: 1, method: 'ping' }, s1)).status).toBe(404);
    expect(await limiter(id).openSessions()).toBe(2);
  });
});
