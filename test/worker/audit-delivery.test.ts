import { env, evictDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { auditQuery, toolCall, waitForEvents } from './audit-support';
import { call, createKey, mcpPost, openSession, rpcMessages, seedTenant } from './platform-client';

const exactly = (n: number) => (events: any[]) => events.length >= n;

function sessionObject(sealed: string) {
  const raw = sealed.split('.')[0];
  return env.NOTES_SERVER.get(env.NOTES_SERVER.idFromName(`streamable-http:${raw}`));
}

async function callsIn(key: string, session: string, count: number, label: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await call('notes', key, session, 'tools/call', toolCall('add_note', { title: `${label}-${i}`, body: 'b' }));
    expect(res.status).toBe(200);
    expect(res.message.result.isError).toBeFalsy();
  }
}

function expectNoDuplicates(events: any[]): void {
  expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  expect(new Set(events.map((e) => e.resource === 'add_note' && e.details?.arguments?.title)).size).toBe(events.length);
}

describe('audit delivery', { timeout: 120_000 }, () => {
  it('records exactly one event per call across sessions and tenants, with who, where, latency and correlation id', async () => {
    const a = await seedTenant(['notes']);
    const b = await seedTenant(['notes']);
    const keyA = await createKey(a.id, 'member');
    const keyB = await createKey(b.id, 'member');
    const sessionsA = [await openSession('notes', keyA.key), await openSession('notes', keyA.key), await openSession('notes', keyA.key)];
    const sessionsB = [await openSession('notes', keyB.key), await openSession('notes', keyB.key)];
    for (const [i, s] of sessionsA.entries()) await callsIn(keyA.key, s, 5, `a${i}`);
    for (const [i, s] of sessionsB.entries()) await callsIn(keyB.key, s, 4, `b${i}`);

    const eventsA = await waitForEvents(a.id, 'action=tools/call', exactly(15));
    const eventsB = await waitForEvents(b.id, 'action=tools/call', exactly(8));
    // Let any duplicate delivery land before counting.
    await new Promise((r) => setTimeout(r, 2500));
    const finalA = (await auditQuery(`/tenants/${a.id}/audit?action=tools/call&limit=5000`)).body.events;
    const finalB = (await auditQuery(`/tenants/${b.id}/audit?action=tools/call&limit=5000`)).body.events;
    expect(finalA).toHaveLength(15);
    expect(finalB).toHaveLength(8);
    expectNoDuplicates(finalA);
    expectNoDuplicates(finalB);
    expect(new Set(eventsA.map((e) => e.session)).size).toBe(3);
    expect(new Set(eventsB.map((e) => e.session)).size).toBe(2);
    for (const e of eventsA) {
      expect(e).toMatchObject({ tenant: a.id, server: 'notes', action: 'tools/call', resource: 'add_note', result: 'ok', user: `key:${keyA.id}`, client: keyA.id });
      expect(typeof e.latencyMs).toBe('number');
      expect(e.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    }
    // Each tenant sees only its own.
    expect(eventsB.every((e) => e.tenant === b.id)).toBe(true);
  });

  it('returns the correlation id to the client and files the event under it', async () => {
    const t = await seedTenant(['notes']);
    const key = await createKey(t.id, 'member');
    const session = await openSession('notes', key.key);
    const res = await mcpPost('notes', key.key, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: toolCall('list_notes') }, session);
    const correlationId = res.headers.get('x-correlation-id');
    expect(correlationId).toMatch(/^[0-9a-f-]{36}$/);
    await rpcMessages(res);
    const [event] = await waitForEvents(t.id, 'action=tools/call', exactly(1));
    expect(event.correlationId).toBe(correlationId);
  });

  it('loses nothing and duplicates nothing while D1 is failing and a session object is evicted mid-run', async () => {
    const t = await seedTenant(['notes']);
    const key = await createKey(t.id, 'member');
    const s1 = await openSession('notes', key.key);
    const s2 = await openSession('notes', key.key);
    await callsIn(key.key, s1, 3, 'before');
    await waitForEvents(t.id, 'action=tools/call', exactly(3));

    // The central store goes away: the audit table disappears from D1.
    await env.DB.exec('ALTER TABLE audit_events RENAME TO audit_events_offline');
    await callsIn(key.key, s1, 4, 'outage-s1');
    await callsIn(key.key, s2, 4, 'outage-s2');
    const admin = await createKey(t.id, 'read-only'); // an admin change during the outage
    // A session object is evicted while its events are still waiting in its outbox.
    await evictDurableObject(sessionObject(s1));
    await callsIn(key.key, s1, 2, 'after-evict');
    await new Promise((r) => setTimeout(r, 1500)); // shipments fail meanwhile
    await env.DB.exec('ALTER TABLE audit_events_offline RENAME TO audit_events');

    await waitForEvents(t.id, 'action=tools/call', exactly(13), 60_000);
    await waitForEvents(t.id, 'action=admin.key.create', (e) => e.some((x) => x.resource === admin.id), 60_000);
    await new Promise((r) => setTimeout(r, 2500));
    const events = (await auditQuery(`/tenants/${t.id}/audit?action=tools/call&limit=5000`)).body.events;
    expect(events).toHaveLength(13);
    expectNoDuplicates(events);
  });
});
