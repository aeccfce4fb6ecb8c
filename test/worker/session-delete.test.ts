import { env, runDurableObjectAlarm, SELF } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TenantLimiter } from '../../src/limits/tenant-limiter';
import { call, createKey, notesSessionObject, openSession, ORIGIN, seedTenant } from './platform-client';

// A DELETE by the session's owner releases its quota slot exactly once: in the gate, at once. The
// object's deferred teardown (the SDK's destroy() from its alarm) must not release it again, nor
// may a repeated DELETE (issue 16 point 5: the slot used to be released in the gate and again in
// destroy()). Releases are counted on the tenant limiter's class, which runs in this isolate.

const limiter = (tenant: string) => env.TENANT_LIMITER.get(env.TENANT_LIMITER.idFromName(`tenant:${tenant}`));

const del = (key: string, sessionId: string) =>
  SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${key}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' },
  });

afterEach(() => vi.restoreAllMocks());

describe('ending a session with DELETE', () => {
  it('releases its slot exactly once: in the gate, not again in the teardown, not again on a second DELETE', async () => {
    const { id } = await seedTenant(['notes']);
    const { key } = await createKey(id, 'member');
    const sessionId = await openSession('notes', key);
    const other = await openSession('notes', key);
    expect((await call('notes', key, sessionId, 'tools/call', { name: 'add_note', arguments: { title: 'before delete' } })).status).toBe(200);
    expect(await limiter(id).openSessions()).toBe(2);
    const name = `streamable-http:${sessionId.split('.')[0]}`;
    const releases = vi.spyOn(TenantLimiter.prototype, 'release');
    const ofThisSession = () => releases.mock.calls.filter(([session]) => session === name).length;

    const ended = await del(key, sessionId);
    expect(ended.status).toBe(204);
    expect(ofThisSession()).toBe(1);
    expect(await limiter(id).openSessions()).toBe(1);

    // The deferred teardown (the SDK's destroy() from the object's alarm) ships the outbox and deletes storage, no release.
    const ran = await runDurableObjectAlarm(notesSessionObject(sessionId)).catch((error: unknown) => `aborted: ${String(error)}`);
    if (typeof ran === 'string') expect(ran).toContain('destroyed');
    expect(ofThisSession()).toBe(1);

    // The id is unknown now: a second DELETE and a call are 404 without touching the slot.
    const again = await del(key, sessionId);
    expect(again.status).toBe(404);
    await again.body?.cancel();
    expect((await call('notes', key, sessionId, 'tools/list')).status).toBe(404);
    expect(ofThisSession()).toBe(1);
    expect(releases.mock.calls.every(([session]) => session === name)).toBe(true);

    // The other session of the same key is untouched, and its slot still counted.
    expect((await call('notes', key, other, 'tools/list')).status).toBe(200);
    expect(await limiter(id).openSessions()).toBe(1);
  });
});
