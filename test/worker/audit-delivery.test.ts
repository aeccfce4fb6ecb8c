import { env, evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { dayOf, shardStore } from '../../src/audit/store-names';
import { describe, expect, it } from 'vitest';
import { deliverToStores } from '../../src/audit/audit-store';
import { auditOutbox } from '../../src/audit/record';
import { auditQuery, seedStoreEvents, toolCall, waitForEvents } from './audit-support';
import { modernCall, textOf } from './modern-client';
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

/** Take the tenant's store for today down (its events table disappears: every delivery fails), or bring it back. */
async function storeOutage(tenant: string, down: boolean): Promise<void> {
  await runInDurableObject(shardStore(env, tenant, dayOf(Date.now())), (_instance, state) => {
    state.storage.sql.exec(down ? 'ALTER TABLE events RENAME TO events_offline' : 'ALTER TABLE events_offline RENAME TO events');
  });
}

/** The events waiting in an object's outbox (a session's own, or a tenant's outbox object). */
async function outboxEvents(object: DurableObjectStub): Promise<any[]> {
  return runInDurableObject(object, (_instance, state) => {
    const exists = state.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'smcp_audit_outbox'").toArray().length > 0;
    if (!exists) return [];
    return state.storage.sql
      .exec<{ body: string }>('SELECT body FROM smcp_audit_outbox')
      .toArray()
      .map((r) => JSON.parse(r.body));
  });
}

/** The note titles of the `add_note` calls whose events wait in an object's outbox. */
async function outboxTitles(object: DurableObjectStub): Promise<string[]> {
  return (await outboxEvents(object)).filter((e) => e.resource === 'add_note').map((e) => String(e.details?.arguments?.title));
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition never held');
    await new Promise((r) => setTimeout(r, 50));
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
      expect(e).toMatchObject({
        tenant: a.id,
        server: 'notes',
        action: 'tools/call',
        resource: 'add_note',
        result: 'ok',
        user: `key:${keyA.id}`,
        client: keyA.id,
      });
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

  it('loses nothing and duplicates nothing while the store is failing and session and store objects are evicted mid-run', async () => {
    const t = await seedTenant(['notes']);
    const key = await createKey(t.id, 'member');
    const s1 = await openSession('notes', key.key);
    const s2 = await openSession('notes', key.key);
    await callsIn(key.key, s1, 3, 'before');
    await waitForEvents(t.id, 'action=tools/call', exactly(3));

    // The tenant's store goes away: its events table disappears.
    await storeOutage(t.id, true);
    await callsIn(key.key, s1, 4, 'outage-s1');
    await callsIn(key.key, s2, 4, 'outage-s2');
    const admin = await createKey(t.id, 'read-only'); // an admin change during the outage
    // The deliveries carrying the calls' events fail, and the sessions that sent them keep them in their own outboxes.
    const kept = async () => [...(await outboxTitles(sessionObject(s1))), ...(await outboxTitles(sessionObject(s2)))];
    await waitFor(async () => (await kept()).filter((title) => title.startsWith('outage-')).length === 8);
    // A session object is evicted while events wait in its outbox.
    await evictDurableObject(sessionObject(s1));
    await callsIn(key.key, s1, 2, 'after-evict');
    await new Promise((r) => setTimeout(r, 1500)); // shipments fail meanwhile
    await storeOutage(t.id, false);
    // The store object itself is evicted while the backlog is being delivered to it.
    await evictDurableObject(shardStore(env, t.id, dayOf(Date.now())));

    await waitForEvents(t.id, 'action=tools/call', exactly(13), 60_000);
    await waitForEvents(t.id, 'action=admin.key.create', (e) => e.some((x) => x.resource === admin.id), 60_000);
    await new Promise((r) => setTimeout(r, 2500));
    const events = (await auditQuery(`/tenants/${t.id}/audit?action=tools/call&limit=5000`)).body.events;
    expect(events).toHaveLength(13);
    expectNoDuplicates(events);
    expect(await kept()).toEqual([]);
  });

  it('keeps stateless calls made while the store is failing in the tenant outbox, and delivers each once', async () => {
    const t = await seedTenant(['everything']);
    const key = await createKey(t.id, 'member');
    await modernCall('everything', key.key, 'tools/call', { name: 'test_simple_text', arguments: {} });
    await waitForEvents(t.id, 'action=tools/call', exactly(1));
    await storeOutage(t.id, true);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => modernCall('everything', key.key, 'tools/call', { name: 'test_simple_text', arguments: {} })),
    );
    for (const a of answers) expect(textOf(a.message)).toContain('simple text');
    const waiting = async () => (await outboxEvents(auditOutbox(env, t.id))).filter((e) => e.action === 'tools/call');
    await waitFor(async () => (await waiting()).length === 6);
    await storeOutage(t.id, false);
    await waitForEvents(t.id, 'action=tools/call', exactly(7), 60_000);
    await new Promise((r) => setTimeout(r, 2500));
    const events = (await auditQuery(`/tenants/${t.id}/audit?action=tools/call&limit=5000`)).body.events;
    expect(events).toHaveLength(7);
    expect(new Set(events.map((e: any) => e.correlationId)).size).toBe(7);
    expect(await waiting()).toEqual([]);
  });

  it('stores a resent batch once and counts it once in the metrics', async () => {
    const t = await seedTenant(['notes']);
    const now = Date.now();
    const events = await seedStoreEvents(
      t.id,
      Array.from({ length: 20 }, (_, i) => ({ time: now - i, server: 'notes', latencyMs: 5, result: i === 0 ? 'error' : 'ok' })),
      60_000,
    );
    // The outbox resends the same batch (a crash between the store's commit and the outbox's delete), twice.
    await deliverToStores(env, events);
    await deliverToStores(env, [...events.slice(0, 5), ...events.slice(0, 5)]);
    const stored = (await auditQuery(`/tenants/${t.id}/audit?limit=5000`)).body.events;
    expect(stored).toHaveLength(20);
    const notes = (await auditQuery(`/tenants/${t.id}/metrics?window=60&bucket=5`)).body.servers.find((s: any) => s.server === 'notes');
    expect(notes).toMatchObject({ requests: 20, errors: 1 });
  });
});
