import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { deliverToStores } from '../../src/audit/audit-store';
import { EVENT_COLUMNS, EVENT_JSON_VALUES, type AuditEvent } from '../../src/audit/audit-event';
import { auditQuery } from './audit-support';
import { adminCall, createKey, seedTenant } from './platform-client';

const DAY = 86_400_000;

/** Rows in the pre-store D1 table, as an existing deployment has them (migrations/0004_audit.sql). */
async function seedLegacy(rows: AuditEvent[]): Promise<void> {
  // The same column mapping as the shards' ingest (EVENT_JSON_VALUES), 100 rows a statement.
  const insert = env.DB.prepare(`INSERT INTO audit_events (${EVENT_COLUMNS}) SELECT ${EVENT_JSON_VALUES} FROM json_each(?)`);
  for (let i = 0; i < rows.length; i += 100) await insert.bind(JSON.stringify(rows.slice(i, i + 100))).run();
}

function legacyEvent(tenant: string | null, time: number, i: number): AuditEvent {
  return {
    id: crypto.randomUUID(),
    time,
    tenant,
    action: 'tools/call',
    result: i % 10 === 0 ? 'error' : 'ok',
    user: 'usr_legacy',
    client: null,
    session: `s-${i % 3}`,
    server: 'notes',
    resource: 'add_note',
    latencyMs: i % 50,
    correlationId: null,
    ip: null,
    details: { i },
  };
}

async function allEvents(path: string): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  do {
    const page: any = (await auditQuery(`${path}${path.includes('?') ? '&' : '?'}limit=500${cursor ? `&cursor=${cursor}` : ''}`)).body;
    out.push(...page.events);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

describe('migration from the D1 audit table', { timeout: 180_000 }, () => {
  it('moves every legacy event into the per-tenant stores exactly once, readable throughout, even when interrupted', async () => {
    const a = await seedTenant(['notes']);
    const b = await seedTenant(['notes']);
    const now = Date.now();
    await env.DB.prepare('UPDATE tenants SET created_at = ? WHERE id IN (?, ?)')
      .bind(now - 10 * DAY, a.id, b.id)
      .run();
    // 1,200 events of tenant a over the last two days, 30 of tenant b, 10 platform-level.
    const rowsA = Array.from({ length: 1200 }, (_, i) => legacyEvent(a.id, now - 2 * DAY + i * 120_000, i));
    const rowsB = Array.from({ length: 30 }, (_, i) => legacyEvent(b.id, now - 3_600_000 + i * 1000, i));
    const rowsP = Array.from({ length: 10 }, (_, i) => ({
      ...legacyEvent(null, now - 60_000 + i, i),
      action: 'auth.sign_in',
      result: 'denied' as const,
      server: null,
    }));
    await seedLegacy([...rowsA, ...rowsB, ...rowsP]);

    // Before migration the query API reads the legacy table (once its "empty" cache, if any, has expired).
    for (let i = 0; ; i++) {
      if ((await allEvents(`/tenants/${a.id}/audit?user=usr_legacy`)).length === 1200) break;
      expect(i, 'legacy events never became visible').toBeLessThan(60);
      await new Promise((r) => setTimeout(r, 250));
    }

    // An interrupted run: the first 300 reached the store but were never deleted from D1.
    await deliverToStores(env, rowsA.slice(0, 300));
    expect(await allEvents(`/tenants/${a.id}/audit?user=usr_legacy`)).toHaveLength(1200);

    // Only the operator may migrate.
    const admin = await createKey(a.id, 'admin');
    expect((await adminCall('POST', '/audit/migrate', undefined, admin.key)).status).toBe(403);
    let remaining = Infinity;
    let migrated = 0;
    while (remaining > 0) {
      const res = await adminCall('POST', '/audit/migrate');
      expect(res.status).toBe(200);
      migrated += res.body.migrated;
      remaining = res.body.remaining;
    }
    expect(migrated).toBeGreaterThanOrEqual(1240);
    expect((await env.DB.prepare('SELECT COUNT(*) AS n FROM audit_events').first<{ n: number }>())!.n).toBe(0);
    expect((await adminCall('POST', '/audit/migrate')).body).toEqual({ migrated: 0, remaining: 0 });

    // Exactly the seeded events, once each, with every field; the platform-level ones in their own store.
    const afterA = await allEvents(`/tenants/${a.id}/audit?user=usr_legacy`);
    expect(afterA).toHaveLength(1200);
    expect(new Set(afterA.map((e) => e.id))).toEqual(new Set(rowsA.map((e) => e.id)));
    const sample = rowsA[777]!;
    expect(afterA.find((e) => e.id === sample.id)).toEqual(sample);
    expect(await allEvents(`/tenants/${b.id}/audit?user=usr_legacy`)).toHaveLength(30);
    const platform = await allEvents('/audit?tenant=_platform&user=usr_legacy');
    expect(new Set(platform.map((e) => e.id))).toEqual(new Set(rowsP.map((e) => e.id)));

    // Migrated events feed the rollups: metrics over the last 3 days count each once.
    const metrics = (await auditQuery(`/tenants/${a.id}/metrics?window=4320&bucket=1440`)).body;
    expect(metrics.servers).toEqual([expect.objectContaining({ server: 'notes', requests: 1200, errors: 120 })]);
  });
});
