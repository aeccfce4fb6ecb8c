import { env, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, createKey, mcpPost, openSession, ORIGIN, seedTenant } from './platform-client';

// This file runs in its own workerd (project `worker-expiry`) with SMCP_SESSION_IDLE_MINUTES=0.05 (3 s).
const IDLE_MS = 3000;

function sessionObject(sessionId: string) {
  const raw = sessionId.split('.')[0]!;
  return { raw, stub: env.NOTES_SERVER.get(env.NOTES_SERVER.idFromName(`streamable-http:${raw}`)) };
}

async function storageContents(stub: DurableObjectStub) {
  return runInDurableObject(stub, async (_instance, state) => {
    const keys = [...(await state.storage.list()).keys()];
    const tables = state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")
      .toArray()
      .map((t) => t.name);
    const rows: Record<string, number> = {};
    for (const t of tables) rows[t] = Number(state.storage.sql.exec(`SELECT COUNT(*) AS n FROM "${t}"`).one().n);
    return { keys, rows, alarm: await state.storage.getAlarm() };
  });
}

const limiterSessions = (tenant: string) => env.TENANT_LIMITER.get(env.TENANT_LIMITER.idFromName(`tenant:${tenant}`)).openSessions();

describe('idle session expiry', () => {
  it("deletes an idle session's storage from the SDK scheduler's alarm, frees its quota slot, and answers 404 afterwards", async () => {
    const { id } = await seedTenant(['notes']);
    const { key } = await createKey(id, 'member');
    const sessionId = await openSession('notes', key);
    const added = await call('notes', key, sessionId, 'tools/call', { name: 'add_note', arguments: { title: 'kept until idle' } });
    expect(added.message.result.isError).toBeFalsy();
    const { stub } = sessionObject(sessionId);

    const before = await storageContents(stub);
    console.log('session storage before expiry:', JSON.stringify(before));
    expect(before.keys.length).toBeGreaterThan(0);
    expect(before.rows.notes).toBe(1);
    expect(before.alarm).not.toBeNull();
    expect(await limiterSessions(id)).toBe(1);

    await new Promise((r) => setTimeout(r, IDLE_MS + 1500));
    // The SDK's destroy() ends by aborting the object (`ctx.abort('destroyed')`), so the alarm
    // invocation the test drives may reject with that reason; it may also have fired on its own.
    const ran = await runDurableObjectAlarm(stub).catch((error: unknown) => `aborted: ${String(error)}`);
    console.log(`alarm run by the test: ${ran} (false = it had already fired on its own)`);
    if (typeof ran === 'string') expect(ran).toContain('destroyed');

    // A stub whose object aborted is broken for good: look the object up again.
    const after = await storageContents(sessionObject(sessionId).stub);
    console.log('session storage after expiry:', JSON.stringify(after));
    // Looking inside constructs the class again, and the Agent constructor writes its schema
    // marker: what remains must be exactly what a never-used object holds, and no row at all.
    const pristine = await storageContents(env.NOTES_SERVER.get(env.NOTES_SERVER.idFromName(`never-used-${crypto.randomUUID()}`)));
    expect(after.keys).toEqual(pristine.keys);
    expect(after.keys).not.toContain('initializeRequest');
    expect(after.keys).not.toContain('smcp:owner');
    expect(after.rows.notes ?? 0).toBe(0);
    expect(Object.values(after.rows).reduce((a, b) => a + b, 0)).toBe(0);
    expect(after.alarm).toBeNull();
    expect(await limiterSessions(id)).toBe(0);

    const res = await mcpPost('notes', key, { jsonrpc: '2.0', id: 9, method: 'tools/list', params: {} }, sessionId);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32001);
  }, 30_000);

  it('keeps a session that stays active past the idle time', async () => {
    const { id } = await seedTenant(['notes']);
    const { key } = await createKey(id, 'member');
    const sessionId = await openSession('notes', key);
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, IDLE_MS / 2));
      const listed = await call('notes', key, sessionId, 'tools/list');
      expect(listed.status, `call ${i}`).toBe(200);
    }
    expect(await limiterSessions(id)).toBe(1);
  }, 30_000);

  it('deletes the storage of a legacy SSE stream opened and dropped without a message (issue 13 finding 12), and frees its slot', async () => {
    const { id } = await seedTenant(['notes']);
    const { key } = await createKey(id, 'member');
    const sse = await SELF.fetch(`${ORIGIN}/servers/notes/sse`, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } });
    expect(sse.status).toBe(200);
    const reader = sse.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    const sessionId = /sessionId=([0-9a-f.]+)/.exec(first)![1]!;
    await reader.cancel();
    const stub = () => env.NOTES_SERVER.get(env.NOTES_SERVER.idFromName(`sse:${sessionId}`));
    const before = await storageContents(stub());
    console.log('dropped SSE session storage before expiry:', JSON.stringify(before));
    expect(before.keys.length).toBeGreaterThan(0);
    expect(before.alarm).not.toBeNull();
    expect(await limiterSessions(id)).toBe(1);

    await new Promise((r) => setTimeout(r, IDLE_MS + 1500));
    await runDurableObjectAlarm(stub()).catch((error: unknown) => expect(String(error)).toContain('destroyed'));
    const after = await storageContents(stub());
    const pristine = await storageContents(env.NOTES_SERVER.get(env.NOTES_SERVER.idFromName(`never-used-${crypto.randomUUID()}`)));
    console.log('dropped SSE session storage after expiry:', JSON.stringify(after));
    expect(after.keys).toEqual(pristine.keys);
    expect(Object.values(after.rows).reduce((a, b) => a + b, 0)).toBe(0);
    expect(after.alarm).toBeNull();
    expect(await limiterSessions(id)).toBe(0);
  }, 30_000);
});
