import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/audit-event';
import { INGEST_CHUNK } from '../../src/audit/audit-store-object';
import { deliverToStores } from '../../src/audit/audit-store';
import { dayOf, shardStore } from '../../src/audit/store-names';
import { auditQuery, backdateTenant } from './audit-support';
import { seedTenant } from './platform-client';

/** A tenant whose views reach back an hour (they start at its creation). */
async function tenant(): Promise<string> {
  const t = await seedTenant(['notes']);
  await backdateTenant(t.id, 60 * MINUTE);
  return t.id;
}

const MINUTE = 60_000;

function events(tenant: string, n: number, time: number): AuditEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: crypto.randomUUID(),
    time: time + i,
    tenant,
    action: 'tools/call',
    result: i % 10 === 0 ? 'error' : 'ok',
    user: 'usr_1',
    client: null,
    session: 'sess-1',
    server: 'notes',
    resource: 'add_note',
    latencyMs: 5,
    correlationId: null,
    ip: null,
    details: null,
  }));
}

describe('a shard stores a delivery in chunks (turns for other tenants), still exactly once', () => {
  it('a delivery that fails after some chunks is resent whole and every event is stored and counted once', async () => {
    const t = { id: await tenant() };
    const time = Date.now() - (Date.now() % MINUTE) - 10 * MINUTE;
    const batch = events(t.id, 3 * INGEST_CHUNK + 7, time);
    // One event the shard refuses (NOT NULL), in the third chunk: the first two chunks commit, the delivery fails.
    const broken = batch.map((e, i) => (i === 2 * INGEST_CHUNK + 3 ? ({ ...e, action: null } as unknown as AuditEvent) : e));
    await expect(deliverToStores(env, broken)).rejects.toThrow();
    const shard = shardStore(env, t.id, dayOf(time));
    expect(await shard.count()).toBe(2 * INGEST_CHUNK);

    // The outbox resends the whole batch (fixed), twice: the stored chunks are skipped, nothing is counted twice.
    await deliverToStores(env, batch);
    await deliverToStores(env, batch);
    expect(await shard.count()).toBe(batch.length);
    const page = await auditQuery(`/tenants/${t.id}/audit?limit=5000`);
    expect(new Set(page.body.events.map((e: AuditEvent) => e.id))).toEqual(new Set(batch.map((e) => e.id)));
    const metrics = await auditQuery(`/tenants/${t.id}/metrics?window=60&bucket=1`);
    expect(metrics.body.servers).toEqual([expect.objectContaining({ server: 'notes', requests: batch.length, errors: Math.ceil(batch.length / 10) })]);
  });

  it('concurrent deliveries to one shard are all stored, once', async () => {
    const t = { id: await tenant() };
    const time = Date.now() - (Date.now() % MINUTE) - 5 * MINUTE;
    const batches = Array.from({ length: 4 }, (_, i) => events(t.id, 2 * INGEST_CHUNK + i, time + i * 1000));
    await Promise.all([...batches, batches[0]!].map((b) => deliverToStores(env, b)));
    expect(await shardStore(env, t.id, dayOf(time)).count()).toBe(batches.flat().length);
    const metrics = await auditQuery(`/tenants/${t.id}/metrics?window=60&bucket=1`);
    expect(metrics.body.servers[0].requests).toBe(batches.flat().length);
  });
});
