import type { AuditEvent } from './audit-event';
import { addCounts, rollupDeltas, type RollupCounts } from './audit-rollup';
import { LatencySketch } from '../metrics/latency-sketch';

/** Rows kept in memory: a shard's writes land in the current minute and hour of a few servers. */
const RECENT_ROWS = 64;

interface RollupState extends RollupCounts {
  sketch: LatencySketch;
}

/**
 * A shard's `rollups` table as ingest writes it: each batch's fresh events are added to their
 * (grain, bucket, server) rows inside the caller's transaction. The rows most recently written are
 * kept in memory as they were stored, so the next batch for the same minute and hour neither reads
 * the row back nor parses its sketch again; it adds its delta and writes the row.
 *
 * The memory must never disagree with the table, since a rollup counted from a stale row would
 * count events twice or lose them. So: only `add` writes rows it remembers; the owner calls
 * `forget()` whenever a transaction that called `add` fails (it rolled back what `add` wrote) and
 * before any other change to the table (retention); and a remembered row that is no longer in the
 * table makes `add` throw (its update writes nothing) instead of guessing, so the delivery is resent
 * and recounted from the table.
 */
export class RollupTable {
  private readonly recent = new Map<string, RollupState>();

  constructor(private readonly sql: SqlStorage) {}

  /** Count `fresh` (events stored by this transaction, none seen before) in their rollup rows. */
  add(fresh: AuditEvent[]): void {
    for (const [key, d] of rollupDeltas(fresh)) {
      let row = this.recent.get(key);
      if (row) this.recent.delete(key);
      else row = this.read(d.grain, d.start, d.server);
      const exists = row !== undefined;
      row ??= { requests: 0, errors: 0, denials: 0, rateLimited: 0, sketch: new LatencySketch() };
      addCounts(row, d);
      row.sketch.merge(d.sketch);
      const values = [row.requests, row.errors, row.denials, row.rateLimited, JSON.stringify(row.sketch)] as const;
      if (!exists) this.sql.exec('INSERT INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?)', d.grain, d.start, d.server, ...values);
      else if (
        this.sql.exec(
          'UPDATE rollups SET requests = ?, errors = ?, denials = ?, rate_limited = ?, sketch = ? WHERE grain = ? AND start = ? AND server = ?',
          ...values,
          d.grain,
          d.start,
          d.server,
        ).rowsWritten === 0
      )
        throw new Error(`rollup row ${key} vanished during ingest`);
      this.recent.set(key, row);
      if (this.recent.size > RECENT_ROWS) this.recent.delete(this.recent.keys().next().value!);
    }
  }

  /** Drop every remembered row: the table changed (or rolled back) behind them. */
  forget(): void {
    this.recent.clear();
  }

  private read(grain: number, start: number, server: string): RollupState | undefined {
    const old = this.sql
      .exec('SELECT requests, errors, denials, rate_limited, sketch FROM rollups WHERE grain = ? AND start = ? AND server = ?', grain, start, server)
      .toArray()[0];
    if (!old) return undefined;
    return {
      requests: Number(old.requests),
      errors: Number(old.errors),
      denials: Number(old.denials),
      rateLimited: Number(old.rate_limited),
      sketch: LatencySketch.from(String(old.sketch)),
    };
  }
}
