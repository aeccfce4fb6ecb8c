import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/audit-event';
import { INGEST_CHUNK } from '../../src/audit/audit-store-object';
import { deliverToStores } from '../../src/audit/audit-store';
import { dayOf, shardStore } from '../../src/audit/store-names';
import { auditEvent, auditQuery, backdateTenant } from './audit-support';
import { seedTenant } from './platform-client';

/**
 * The shard learns whether an event is new from its own insert (`ON CONFLICT (id) DO NOTHING`)
 * and keeps the rollup rows it last wrote in memory (src/audit/rollup-table.ts). These tests attack
 * both: duplicate ids inside one delivery, a failure after the rollups were updated in memory, rows
 * changed behind the shard's back, and retention rewriting a remembered hour.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

async function tenant(): Promise<string> {
  const t = await seedTenant(['notes']);
  await backdateTenant(t.id, 4 * HOUR);
  return t.id;
}

const calls = (tenant: string, n: number, time: number, session = 'sess-1'): AuditEvent[] =>
  Array.from({ length: n }, (_, i) => auditEvent({ tenant, time: time + i, session, server: 'notes', resource: 'add_note', latencyMs: 5 }));

/** Requests the tenant's metrics count for `notes` over the last `minutes`, in buckets of `bucket` minutes. */
async function requests(t: string, minutes = 60, bucket = 1): Promise<number> {
  const res = await auditQuery(`/tenants/${t}/metrics?window=${minutes}&bucket=${bucket}`);
  expect(res.status).toBe(200);
  return res.body.servers.find((s: { server: string }) => s.server === 'notes')?.requests ?? 0;
}

const inShard = <T>(t: string, time: number, fn: (sql: SqlStorage) => T) =>
  runInDurableObject(shardStore(env, t, dayOf(time)), (_instance, state) => fn(state.storage.sql));

describe('shard ingest: the insert decides what is new', () => {
  it('an id repeated inside one delivery (same chunk or a later one) is stored once, first copy, counted once; only fresh copies move a session', async () => {
    const t = await tenant();
    const time = Date.now() - (Date.now() % MINUTE) - 10 * MINUTE;
    const batch = calls(t, INGEST_CHUNK + 10, time);
    // Copies with another result and a later time: same chunk, next chunk, and last in the delivery.
    const copy = (e: AuditEvent): AuditEvent => ({ ...e, result: 'error', time: time + 30_000, session: 'sess-2' });
    const delivered = [...batch.slice(0, 5), copy(batch[2]!), ...batch.slice(5), copy(batch[3]!), copy(batch[INGEST_CHUNK + 1]!)];
    await deliverToStores(env, delivered);

    expect(await shardStore(env, t, dayOf(time)).count()).toBe(batch.length);
    const page = await auditQuery(`/tenants/${t}/audit?limit=5000`);
    expect(page.body.events).toHaveLength(batch.length);
    expect(page.body.events.every((e: AuditEvent) => e.result === 'ok')).toBe(true);
    const metrics = await auditQuery(`/tenants/${t}/metrics?window=60&bucket=1`);
    expect(metrics.body.servers).toEqual([expect.objectContaining({ server: 'notes', requests: batch.length, errors: 0 })]);
    // The copies were not stored, so their session and later time count for nothing.
    const sessions = await inShard(t, time, (sql) => sql.exec<{ session: string; last_seen: number }>('SELECT session, last_seen FROM sessions').toArray());
    expect(sessions).toEqual([{ session: 'sess-1', last_seen: time + batch.length - 1 }]);

    // The whole delivery again, and the copies alone: nothing more.
    await deliverToStores(env, delivered);
    await deliverToStores(env, delivered.slice(-3));
    expect(await shardStore(env, t, dayOf(time)).count()).toBe(batch.length);
    expect(await requests(t)).toBe(batch.length);
  });

  it('a delivery that fails after its rollups were updated in memory is counted once when resent', async () => {
    const t = await tenant();
    const time = Date.now() - (Date.now() % MINUTE) - 10 * MINUTE;
    const first = calls(t, 20, time);
    const second = calls(t, 30, time + 100);
    await deliverToStores(env, first); // the shard now remembers this minute's and hour's rows
    // The next delivery fails on its hour row, after its minute row was updated (in the table, rolled
    // back, and in memory).
    await inShard(t, time, (sql) =>
      sql.exec(`CREATE TRIGGER fail_rollups BEFORE UPDATE ON rollups WHEN NEW.grain = ${HOUR} BEGIN SELECT RAISE(ABORT, 'injected'); END`),
    );
    await expect(deliverToStores(env, second)).rejects.toThrow(/injected/);
    expect(await shardStore(env, t, dayOf(time)).count()).toBe(first.length);
    await inShard(t, time, (sql) => sql.exec('DROP TRIGGER fail_rollups'));

    await deliverToStores(env, second);
    await deliverToStores(env, second);
    expect(await shardStore(env, t, dayOf(time)).count()).toBe(first.length + second.length);
    expect(await requests(t)).toBe(first.length + second.length);
  });

  it('a remembered rollup row deleted behind the shard makes the delivery fail instead of miscounting; the resend counts from the table', async () => {
    const t = await tenant();
    const time = Date.now() - (Date.now() % MINUTE) - 10 * MINUTE;
    await deliverToStores(env, calls(t, 10, time));
    await inShard(t, time, (sql) => sql.exec('DELETE FROM rollups'));
    const next = calls(t, 7, time + 50);
    await expect(deliverToStores(env, next)).rejects.toThrow(/vanished/);
    await deliverToStores(env, next);
    expect(await requests(t)).toBe(next.length);
  });

  it('retention inside the day rewrites the hour the shard remembered: later deliveries add to the rewritten row', async () => {
    const t = await tenant();
    const hour = Date.now() - (Date.now() % HOUR) - 2 * HOUR;
    const before = calls(t, 12, hour + 10 * MINUTE);
    const after = calls(t, 8, hour + 40 * MINUTE);
    await deliverToStores(env, [...before, ...after]);
    expect(await requests(t, 240, 60)).toBe(before.length + after.length);

    expect(await shardStore(env, t, dayOf(hour)).deleteBefore(hour + 30 * MINUTE)).toBe(before.length);
    const later = calls(t, 5, hour + 45 * MINUTE);
    await deliverToStores(env, later);
    // Hour buckets read the hour row, minute buckets the minute rows: both agree.
    expect(await requests(t, 240, 60)).toBe(after.length + later.length);
    expect(await requests(t, 240, 1)).toBe(after.length + later.length);
  });

  it('stores every field of every event as given, one statement for the batch (text, nulls, numbers and details that JSON could bend)', async () => {
    const t = await tenant();
    const time = Date.now() - (Date.now() % MINUTE) - 20 * MINUTE;
    const odd: AuditEvent[] = [
      auditEvent({
        tenant: t,
        time,
        session: 'sess-ü',
        server: 'notes',
        resource: "it's \"quoted\" \\ and 'single', ünïcödé 🧪, \u2028 line",
        latencyMs: 0.30000000000000004,
        details: { nested: { list: [1, -0.5, 1e21, null, true, 'x'], empty: {}, none: null }, lone: '\ud800', big: 9007199254740991 },
      }),
      auditEvent({
        tenant: t,
        time: time + 1,
        session: null,
        server: null,
        resource: null,
        user: null,
        client: null,
        latencyMs: null,
        details: null,
        ip: null,
      }),
      auditEvent({ tenant: t, time: time + 2, server: 'notes', details: { arguments: { text: 'x'.repeat(5000) } }, latencyMs: 12 }),
    ];
    await deliverToStores(env, odd);
    const page = await auditQuery(`/tenants/${t}/audit?limit=10`);
    expect(page.status).toBe(200);
    const stored = [...page.body.events].sort((a: AuditEvent, b: AuditEvent) => a.time - b.time);
    expect(stored).toEqual(odd.map((e) => JSON.parse(JSON.stringify(e))));
  });
});
