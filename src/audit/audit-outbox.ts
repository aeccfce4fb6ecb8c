import type { AuditEvent } from './audit-event';

/** Events shipped per D1 batch (one round trip, one transaction). */
export const SHIP_BATCH = 100;

const INSERT = `INSERT OR IGNORE INTO audit_events
  (id, time, tenant, action, result, user, client, session, server, resource, latency_ms, correlation_id, ip, details)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)`;

/**
 * The audit outbox: events are appended to a Durable Object's own SQLite in the same turn as the
 * action they describe (so they are as durable as the action), then shipped to D1 in batches.
 * A row leaves the outbox only after D1 acknowledged it; D1 ignores an id it already holds, so a
 * batch shipped twice (a crash between insert and acknowledgement) is stored once.
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
   * Ship everything pending to D1, oldest first. Resolves with the number shipped; rejects (rows
   * kept) when D1 fails, for the caller to retry later. Concurrent calls share one run.
   */
  ship(db: D1Database): Promise<number> {
    this.shipping ??= this.shipAll(db).finally(() => (this.shipping = null));
    return this.shipping;
  }

  private async shipAll(db: D1Database): Promise<number> {
    let shipped = 0;
    for (;;) {
      const rows = this.sql.exec<{ seq: number; body: string }>('SELECT seq, body FROM smcp_audit_outbox ORDER BY seq LIMIT ?', SHIP_BATCH).toArray();
      if (rows.length === 0) return shipped;
      const events = rows.map((r) => JSON.parse(r.body) as AuditEvent);
      await db.batch(events.map((e) => db.prepare(INSERT).bind(...eventColumns(e))));
      this.sql.exec('DELETE FROM smcp_audit_outbox WHERE seq <= ?', rows[rows.length - 1]!.seq);
      shipped += rows.length;
    }
  }
}

function eventColumns(e: AuditEvent): unknown[] {
  return [e.id, e.time, e.tenant, e.action, e.result, e.user, e.client, e.session, e.server, e.resource, e.latencyMs, e.correlationId, e.ip, e.details ? JSON.stringify(e.details) : null];
}

/** Retry delay after `attempt` failed shipments: exponential from 1 s, capped at 5 min, with jitter. */
export function retryDelayMs(attempt: number): number {
  const base = Math.min(300_000, 1000 * 2 ** Math.min(attempt, 9));
  return Math.round(base / 2 + Math.random() * (base / 2));
}
