import { runInDurableObject } from 'cloudflare:test';
import type { McpAgent } from 'agents/mcp';
import { describe, expect, it } from 'vitest';
import { call, createKey, notesSessionObject, openSession, restartObject, seedTenant } from './platform-client';

// Default idle time (30 minutes, so a 60-second slack): every request of these tests falls within
// the slack of the schedule the session already has.
const EXPIRY_KEY = 'smcp:expiry-schedule';

/** What the session object stores about its expiry, and the SDK scheduler's expiry rows. */
async function expiryState(sessionId: string) {
  return runInDurableObject(notesSessionObject(sessionId), async (instance: McpAgent, state) => ({
    stored: await state.storage.get<unknown>(EXPIRY_KEY),
    schedules: (await instance.listSchedules()).filter((s) => s.callback === 'expireIdleSession').map(({ id, time }) => ({ id, time })),
  }));
}

const restart = (sessionId: string) => restartObject(notesSessionObject(sessionId));

async function openedSession() {
  const { id } = await seedTenant(['notes']);
  const { key } = await createKey(id, 'member');
  const sessionId = await openSession('notes', key);
  expect((await call('notes', key, sessionId, 'tools/list')).status).toBe(200);
  return { key, sessionId };
}

describe('idle expiry across restarts of the session object', () => {
  it('a restarted session keeps its schedule: its next requests neither cancel nor rewrite it', async () => {
    const { key, sessionId } = await openedSession();
    const before = await expiryState(sessionId);
    const stored = before.stored as { id: string; due: number };
    expect(stored.id).toEqual(expect.any(String));
    expect(stored.due).toBeGreaterThan(Date.now());
    expect(before.schedules).toEqual([{ id: stored.id, time: expect.any(Number) }]);

    for (let i = 0; i < 2; i++) {
      await restart(sessionId);
      expect((await call('notes', key, sessionId, 'tools/list')).status).toBe(200);
      expect(await expiryState(sessionId), `after restart ${i + 1}`).toEqual(before);
    }
  });

  it('reads a schedule stored before the due time was kept (the id alone): one rewrite, the old schedule cancelled', async () => {
    const { key, sessionId } = await openedSession();
    const before = await expiryState(sessionId);
    const { id } = before.stored as { id: string };
    await runInDurableObject(notesSessionObject(sessionId), (_instance, state) => state.storage.put(EXPIRY_KEY, id));
    await restart(sessionId);

    expect((await call('notes', key, sessionId, 'tools/list')).status).toBe(200);
    const after = await expiryState(sessionId);
    const rewritten = after.stored as { id: string; due: number };
    expect(rewritten.id).not.toBe(id);
    expect(rewritten.due).toBeGreaterThan(Date.now());
    expect(after.schedules).toEqual([{ id: rewritten.id, time: expect.any(Number) }]);

    // From then on it is the new format: another restart rewrites nothing.
    await restart(sessionId);
    expect((await call('notes', key, sessionId, 'tools/list')).status).toBe(200);
    expect(await expiryState(sessionId)).toEqual(after);
  });
});
