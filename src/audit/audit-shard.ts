import { EVENT_COLUMNS, EVENT_JSON_VALUES, eventFromRow, type AuditEvent, type AuditEventRow, type AuditResult } from './audit-event';
import { addCounts, HOUR, MINUTE, type RollupCounts } from './audit-rollup';
import { RollupTable } from './rollup-table';
import { LatencySketch, type SketchData } from '../metrics/latency-sketch';

/**
 * Stores a JSON array of events, each unless its id is already here (or earlier in the array), and
 * returns the ids it stored. (`WHERE true` keeps SQLite from reading `ON CONFLICT` as a join clause.)
 */
const INSERT_EVENTS = `INSERT INTO events (${EVENT_COLUMNS}) SELECT ${EVENT_JSON_VALUES} FROM json_each(?) WHERE true ON CONFLICT (id) DO NOTHING RETURNING id`;

/** Moves each `[session, time]` of a JSON array forward to that time (never back), in one statement. */
const TOUCH_SESSIONS = `INSERT INTO sessions (session, last_seen) SELECT value->>0, value->>1 FROM json_each(?) WHERE true
  ON CONFLICT (session) DO UPDATE SET last_seen = MAX(last_seen, excluded.last_seen)`;

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, time INTEGER NOT NULL, tenant TEXT, action TEXT NOT NULL,
    result TEXT NOT NULL, user TEXT, client TEXT, session TEXT, server TEXT, resource TEXT, latency_ms REAL,
    correlation_id TEXT, ip TEXT, details TEXT)`,
  // Newest-first pages, alone or with one exact-match filter, walk an index in order.
  'CREATE INDEX IF NOT EXISTS events_time ON events (time, id)',
  'CREATE INDEX IF NOT EXISTS events_action ON events (action, time, id)',
  'CREATE INDEX IF NOT EXISTS events_server ON events (server, time, id)',
  'CREATE INDEX IF NOT EXISTS events_user ON events (user, time, id)',
  'CREATE INDEX IF NOT EXISTS events_result ON events (result, time, id)',
  `CREATE TABLE IF NOT EXISTS rollups (grain INTEGER NOT NULL, start INTEGER NOT NULL, server TEXT NOT NULL,
    requests INTEGER NOT NULL, errors INTEGER NOT NULL, denials INTEGER NOT NULL, rate_limited INTEGER NOT NULL,
    sketch TEXT NOT NULL, PRIMARY KEY (grain, start, server)) WITHOUT ROWID`,
  'CREATE TABLE IF NOT EXISTS sessions (session TEXT PRIMARY KEY, last_seen INTEGER NOT NULL) WITHOUT ROWID',
  'CREATE INDEX IF NOT EXISTS sessions_seen ON sessions (last_seen)',
];

/** Exact-match filters and a time range of one page (the scope is the shard itself). */
export interface ShardPageQuery {
  from?: number;
  to?: number;
  action?: string;
  server?: string;
  user?: string;
  result?: AuditResult;
  cursor?: string;
  /** Rows wanted; the caller asks for one more than its page to know whether there is a next. */
  limit: number;
}

/**
 * The WHERE clauses (and their values, in order) of an audit page: time range, filters and the
 * `<time>:<id>` cursor. One definition for every table that stores events in the same columns (a
 * shard's `events`, the legacy D1 `audit_events`), so both pages agree on what a filter means.
 */
export function pageFilter(q: Omit<ShardPageQuery, 'limit'>): { where: string[]; args: Array<string | number> } {
  const where: string[] = [];
  const args: Array<string | number> = [];
  const add = (clause: string, ...values: Array<string | number>) => {
    where.push(clause);
    args.push(...values);
  };
  if (q.from !== undefined) add('time >= ?', q.from);
  if (q.to !== undefined) add('time < ?', q.to);
  if (q.action) add('action = ?', q.action);
  if (q.server) add('server = ?', q.server);
  if (q.user) add('user = ?', q.user);
  if (q.result) add('result = ?', q.result);
  if (q.cursor) {
    const [time, id] = q.cursor.split(':');
    add('(time < ? OR (time = ? AND id < ?))', Number(time), Number(time), id ?? '');
  }
  return { where, args };
}

/** One series bucket of one server, with its sketch, as a shard returns it for merging. */
export interface ShardMetricsRow extends RollupCounts {
  bucket: number;
  server: string;
  sketch: SketchData;
}

type Row = Record<string, SqlStorageValue>;

/**
 * One day of one scope's audit trail in a Durable Object's SQLite: the events (with an index per
 * filter), their rollups and the last request time of each session. Storing is idempotent on the
 * event id, and events, rollups and sessions change in one transaction, so a batch resent after a
 * crash is neither stored nor counted twice.
 */
export class AuditShard {
  private readonly sql: SqlStorage;
  private readonly rollups: RollupTable;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    for (const statement of SCHEMA) this.sql.exec(statement);
    this.rollups = new RollupTable(this.sql);
  }

  /**
   * Store the events not already here; returns how many were new. One statement for the batch: the
   * insert itself returns the ids that were fresh (`ON CONFLICT (id) DO NOTHING` writes no row for
   * an id already stored, or repeated earlier in the batch), so only fresh events reach the
   * sessions table and the rollups. Only the id conflict is ignored: any other failure (a NOT NULL
   * column, a full database) still throws and rolls the whole transaction back, for the sender to
   * resend. Then one statement moves the sessions of the fresh events forward, and the rollups are
   * written once per distinct key of the batch.
   */
  ingest(events: AuditEvent[]): number {
    try {
      return this.storage.transactionSync(() => this.store(events));
    } catch (error) {
      this.rollups.forget(); // the transaction rolled back the rows it wrote
      throw error;
    }
  }

  private store(events: AuditEvent[]): number {
    const fresh: AuditEvent[] = [];
    const lastSeen = new Map<string, number>();
    // The first copy of an id is the one the insert stored.
    const byId = new Map<string, AuditEvent>();
    for (const e of events) if (!byId.has(e.id)) byId.set(e.id, e);
    for (const { id } of this.sql.exec<{ id: string }>(INSERT_EVENTS, JSON.stringify(events))) {
      const e = byId.get(id)!;
      fresh.push(e);
      if (e.session) lastSeen.set(e.session, Math.max(lastSeen.get(e.session) ?? e.time, e.time));
    }
    if (lastSeen.size > 0) this.sql.exec(TOUCH_SESSIONS, JSON.stringify([...lastSeen]));
    this.rollups.add(fresh);
    return fresh.length;
  }

  /** Up to `limit` events, newest first, after the cursor (`<time>:<id>`). */
  page(q: ShardPageQuery): AuditEvent[] {
    const { where, args } = pageFilter(q);
    const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, id DESC LIMIT ?`;
    return this.sql
      .exec<AuditEventRow>(sql, ...args, q.limit)
      .toArray()
      .map(eventFromRow);
  }

  /** Events oldest first, `limit` after `(time, id)`: the export walks the day with this. */
  ascending(after: { time: number; id: string } | null, limit: number): AuditEvent[] {
    const rows = after
      ? this.sql.exec<AuditEventRow>(
          'SELECT * FROM events WHERE time > ? OR (time = ? AND id > ?) ORDER BY time, id LIMIT ?',
          after.time,
          after.time,
          after.id,
          limit,
        )
      : this.sql.exec<AuditEventRow>('SELECT * FROM events ORDER BY time, id LIMIT ?', limit);
    return rows.toArray().map(eventFromRow);
  }

  /**
   * Metrics of `[from, to)` (minute-aligned) in series buckets of `bucketMs` counted from `origin`.
   * Hours that fall wholly inside one bucket are read from hour rollups, the rest from minutes:
   * at most 24 hour rows plus the ragged edges per server, whatever the number of events.
   */
  metrics(origin: number, from: number, to: number, bucketMs: number): ShardMetricsRow[] {
    const bucketOf = (t: number) => Math.floor((t - origin) / bucketMs);
    const segments: Array<[number, number]> = [];
    const hours: number[] = [];
    let cursor = from;
    for (let h = Math.ceil(from / HOUR) * HOUR; h + HOUR <= to; h += HOUR) {
      if (bucketOf(h) !== bucketOf(h + HOUR - 1)) continue;
      if (cursor < h) segments.push([cursor, h]);
      hours.push(h);
      cursor = h + HOUR;
    }
    if (cursor < to) segments.push([cursor, to]);
    const rows: Row[] = [];
    if (hours.length)
      rows.push(
        ...this.sql
          .exec<Row>('SELECT * FROM rollups WHERE grain = ? AND start >= ? AND start <= ?', HOUR, hours[0]!, hours[hours.length - 1]!)
          .toArray()
          .filter((r) => hours.includes(Number(r.start))),
      );
    for (const [a, b] of segments)
      rows.push(...this.sql.exec<Row>('SELECT * FROM rollups WHERE grain = ? AND start >= ? AND start < ?', MINUTE, a, b).toArray());
    const out = new Map<string, ShardMetricsRow & { merged: LatencySketch }>();
    for (const r of rows) {
      const bucket = bucketOf(Number(r.start));
      const key = `${bucket}|${r.server}`;
      let m = out.get(key);
      if (!m)
        out.set(
          key,
          (m = { bucket, server: String(r.server), requests: 0, errors: 0, denials: 0, rateLimited: 0, sketch: { z: 0, b: {} }, merged: new LatencySketch() }),
        );
      addCounts(m, { requests: Number(r.requests), errors: Number(r.errors), denials: Number(r.denials), rateLimited: Number(r.rate_limited) });
      m.merged.merge(JSON.parse(String(r.sketch)) as SketchData);
    }
    return [...out.values()].map(({ merged, ...m }) => ({ ...m, sketch: merged.toJSON() }));
  }

  /** Sessions with a request at or after `since`. */
  activeSessions(since: number): string[] {
    return this.sql
      .exec<{ session: string }>('SELECT session FROM sessions WHERE last_seen >= ?', since)
      .toArray()
      .map((r) => r.session);
  }

  /**
   * Retention inside the day that holds the cutoff: events, sessions and minute rollups before it
   * go; the hour that holds the cutoff is rebuilt from its remaining minutes.
   */
  deleteBefore(cutoff: number): number {
    this.rollups.forget(); // this rewrites rollup rows outside RollupTable
    return this.storage.transactionSync(() => {
      const deleted = this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE time < ?', cutoff).one().n;
      this.sql.exec('DELETE FROM events WHERE time < ?', cutoff);
      this.sql.exec('DELETE FROM sessions WHERE last_seen < ?', cutoff);
      this.sql.exec('DELETE FROM rollups WHERE start + grain <= ?', cutoff);
      const hour = cutoff - (cutoff % HOUR);
      const minutes = this.sql.exec<Row>('SELECT * FROM rollups WHERE grain = ? AND start >= ? AND start < ?', MINUTE, hour, hour + HOUR).toArray();
      this.sql.exec('DELETE FROM rollups WHERE grain = ? AND start = ?', HOUR, hour);
      const rebuilt = new Map<string, RollupCounts & { sketch: LatencySketch }>();
      for (const r of minutes) {
        const row = rebuilt.get(String(r.server)) ?? { requests: 0, errors: 0, denials: 0, rateLimited: 0, sketch: new LatencySketch() };
        addCounts(row, { requests: Number(r.requests), errors: Number(r.errors), denials: Number(r.denials), rateLimited: Number(r.rate_limited) });
        row.sketch.merge(JSON.parse(String(r.sketch)) as SketchData);
        rebuilt.set(String(r.server), row);
      }
      for (const [server, r] of rebuilt)
        this.sql.exec(
          'INSERT INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          HOUR,
          hour,
          server,
          r.requests,
          r.errors,
          r.denials,
          r.rateLimited,
          JSON.stringify(r.sketch),
        );
      return deleted;
    });
  }

  count(): number {
    return this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM events').one().n;
  }
}
