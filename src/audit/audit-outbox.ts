import type { AuditEvent } from './audit-event';
import { deliverToStores } from './audit-store';

/** Events shipped per batch (one call per tenant-day shard in it, one transaction each). */
export const SHIP_BATCH = 500;

/**
 * The audit outbox: events are appended to a Durable Object's own SQLite in the same turn as the
 * action they describe (so they are as durable as the action), then shipped in batches to the
 * tenant's audit store (src/audit/audit-store-object.ts). A row leaves the outbox only after the
 * store acknowledged it; the store ignores an id it already holds, so a batch shipped twice (a
 * crash between storing and acknowledgement) is stored once. While the store fails, rows stay
 * here: that is the back-pressure, and nothing is dropped.
 */
export class AuditOutbox {
  private readonly sql: SqlStorage;
  private shipping: Promise<number> | null = null;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    sql.exec('CREATE TABLE IF NOT EXISTS smcp_audit_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)');
  }

  /** Synchronous on purpose: the row commits with whatever else this turn writes. */
  append(event: AuditEvent): void {
    this.sql.exec('INSERT OR IGNORE INTO smcp_audit_outbox (id, body) VALUES (?, ?)', event.id, JSON.stringify(event));
  }

  pending(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM smcp_audit_outbox').one().n;
  }

  /**
   * Ship everything pending to the stores, oldest first. Resolves with the number shipped; rejects
   * (rows kept) when a store fails, for the caller to retry later. Concurrent calls share one run.
   */
  ship(env: Env): Promise<number> {
    this.shipping ??= this.shipAll(env).finally(() => (this.shipping = null));
    return this.shipping;
  }

  private async shipAll(env: Env): Promise<number> {
    let shipped = 0;
    for (;;) {
      const rows = this.sql.exec<{ seq: number; body: string }>('SELECT seq, body FROM smcp_audit_outbox ORDER BY seq LIMIT ?', SHIP_BATCH).toArray();
      if (rows.length === 0) return shipped;
      const events = rows.map((r) => JSON.parse(r.body) as AuditEvent);
      await deliverToStores(env, events);
      this.sql.exec('DELETE FROM smcp_audit_outbox WHERE seq <= ?', rows[rows.length - 1]!.seq);
      shipped += rows.length;
    }
  }
}

/** Retry delay after `attempt` failed shipments: exponential from 1 s, capped at 5 min, with jitter. */
export function retryDelayMs(attempt: number): number {
  const base = Math.min(300_000, 1000 * 2 ** Math.min(attempt, 9));
  return Math.round(base / 2 + Math.random() * (base / 2));
}
