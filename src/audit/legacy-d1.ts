import { eventFromRow, type AuditEvent, type AuditEventRow } from './audit-event';
import type { AuditQuery } from './audit-query';
import { pageFilter } from './audit-shard';
import { deliverToStores } from './audit-store';

/**
 * The D1 table `audit_events` that held every tenant's events before the per-tenant stores
 * (migrations/0004_audit.sql). Nothing writes to it any more. `migrateLegacyAudit` moves its rows
 * into the stores, oldest first, deleting a row from D1 only after its shard acknowledged it (the
 * shard ignores an id it already holds, so an interrupted run repeats safely). Until the table is
 * empty, queries read it too for the rows not yet moved, so no event is ever invisible.
 */

/**
 * When this isolate last saw the table empty: nothing writes to it any more, so for the next few
 * seconds queries skip D1 altogether (the check is renewed so a restored backup is still read).
 */
let drainedAt = -Infinity;
const DRAINED_TTL_MS = 10_000;

/** Rows not yet migrated that match the query, newest first (empty, without a D1 call, once drained). */
export async function legacyPage(env: Env, q: AuditQuery & { limit: number }): Promise<AuditEvent[]> {
  if (Date.now() - drainedAt < DRAINED_TTL_MS) return [];
  const filter = pageFilter(q);
  // The legacy table holds every tenant's rows: the tenant is one more clause, ahead of the shared ones.
  const where = q.tenant === null ? ['tenant IS NULL', ...filter.where] : q.tenant !== undefined ? ['tenant = ?', ...filter.where] : filter.where;
  const args: unknown[] = typeof q.tenant === 'string' ? [q.tenant, ...filter.args] : filter.args;
  const [any, page] = await env.DB.batch<AuditEventRow>([
    env.DB.prepare('SELECT id FROM audit_events LIMIT 1'),
    env.DB.prepare(`SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, id DESC LIMIT ?`).bind(
      ...args,
      q.limit,
    ),
  ]);
  if (any!.results.length === 0) drainedAt = Date.now();
  return page!.results.map(eventFromRow);
}

/**
 * Move up to `maxRows` legacy rows into the stores, in batches. Returns how many moved and how
 * many remain. Safe to run again at any point, concurrently with traffic and with itself.
 */
export async function migrateLegacyAudit(env: Env, maxRows = 5000): Promise<{ migrated: number; remaining: number }> {
  let migrated = 0;
  while (migrated < maxRows) {
    const { results } = await env.DB.prepare('SELECT * FROM audit_events ORDER BY time, id LIMIT ?')
      .bind(Math.min(500, maxRows - migrated))
      .all<AuditEventRow>();
    if (results.length === 0) break;
    await deliverToStores(env, results.map(eventFromRow));
    const ids = results.map((r) => r.id);
    // D1 binds at most 100 parameters per statement.
    const chunks = Array.from({ length: Math.ceil(ids.length / 100) }, (_, i) => ids.slice(i * 100, i * 100 + 100));
    await env.DB.batch(chunks.map((c) => env.DB.prepare(`DELETE FROM audit_events WHERE id IN (${c.map(() => '?').join(',')})`).bind(...c)));
    migrated += results.length;
  }
  const remaining = (await env.DB.prepare('SELECT COUNT(*) AS n FROM audit_events').first<{ n: number }>())?.n ?? 0;
  return { migrated, remaining };
}
