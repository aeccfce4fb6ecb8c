import type { TenantLimits } from './tenant-limits';

/**
 * The registry of one tenant's open MCP sessions, kept inside its TenantLimiter (SQLite, so it
 * survives eviction): the concurrent-session quotas, session liveness for the gate, the
 * least-recently-used eviction that keeps a client from being locked out by its own old sessions,
 * and the listing behind the dashboard's Sessions page. Synchronous over the object's SQL storage:
 * the object is single-threaded, so two openings can never both take the last slot.
 */

/** Where a session lives: enough for the limiter's caller to end its Durable Object. */
export interface SessionTarget {
  /** Durable Object name (`streamable-http:<id>`, `sse:<id>`). */
  name: string;
  /** The server's session binding (`NOTES_SERVER`, `GATEWAY_SERVER`, …). */
  binding: string;
  server: string;
  /** Quota key: the user id, or `key:<id>` for an API key. */
  user: string;
}

/** A session as listed to its owner or a tenant admin (never the id a client could present). */
export interface SessionInfo {
  /** Opaque handle for ending the session from the dashboard. */
  handle: string;
  user: string;
  server: string;
  created: number;
  lastSeen: number;
}

export interface OpenRequest {
  user: string;
  server: string;
  binding: string;
  limits: TenantLimits;
  idleMs: number;
}

export type OpenResult =
  { ok: true; reservation: string; evicted?: SessionTarget } | { ok: false; limit: 'tenant_sessions' | 'user_sessions'; retryAfter: number; message: string };

interface SessionRecord {
  user: string;
  server: string;
  binding: string;
  created: number;
  lastSeen: number;
  reserved: boolean;
  handle: string;
}

/** An unconfirmed reservation (an initialize in flight) is forgotten after this. */
const RESERVATION_MS = 60_000;
/** Last-use times are kept exact in memory and written to storage at most this often per session. */
const PERSIST_TOUCH_MS = 60_000;
/** A session unseen for its idle time plus this is forgotten even if its release was lost. */
const FORGET_GRACE_MS = 5 * 60_000;

/**
 * When an idle session's expiry fires, measured from its last request: the idle time plus a
 * small slack (the session object only reschedules its alarm when it would move by more than the
 * slack). One formula for the object that schedules it and the limiter that predicts it.
 */
export function expiryDelayMs(idleMs: number): { delay: number; slack: number } {
  const slack = Math.min(60_000, Math.ceil(idleMs / 10));
  return { delay: idleMs + slack, slack };
}

type Sql = SqlStorage;

export class SessionRegistry {
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly persisted = new Map<string, number>();

  constructor(private readonly sql: Sql) {
    sql.exec('CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user TEXT NOT NULL, last_seen INTEGER NOT NULL, reserved INTEGER NOT NULL)');
    const columns = new Set(
      sql
        .exec<{ name: string }>('PRAGMA table_info(sessions)')
        .toArray()
        .map((c) => c.name),
    );
    for (const [column, type] of [
      ['server', "TEXT NOT NULL DEFAULT ''"],
      ['binding', "TEXT NOT NULL DEFAULT ''"],
      ['created', 'INTEGER NOT NULL DEFAULT 0'],
      ['handle', "TEXT NOT NULL DEFAULT ''"],
    ] as const) {
      if (!columns.has(column)) sql.exec(`ALTER TABLE sessions ADD COLUMN ${column} ${type}`);
    }
    for (const row of sql.exec('SELECT id, user, last_seen, reserved, server, binding, created, handle FROM sessions').toArray()) {
      const lastSeen = Number(row.last_seen);
      this.sessions.set(String(row.id), {
        user: String(row.user),
        lastSeen,
        reserved: row.reserved === 1,
        server: String(row.server),
        binding: String(row.binding),
        created: Number(row.created) || lastSeen,
        handle: String(row.handle) || crypto.randomUUID(),
      });
      this.persisted.set(String(row.id), lastSeen);
    }
  }

  /**
   * A request opening a session. Within quota: a reservation. At the caller's own quota (or with
   * the tenant full while the caller holds sessions): the caller's least recently used session is
   * forgotten and returned as `evicted`, for the caller to end, and the reservation is made. With
   * the tenant full of other callers' sessions: a refusal saying when the earliest one can expire.
   */
  open(req: OpenRequest, now: number): OpenResult {
    this.prune(now, req.idleMs);
    let total = 0;
    let mine = 0;
    let oldest: [string, SessionRecord] | undefined;
    for (const entry of this.sessions) {
      const s = entry[1];
      total++;
      if (s.user !== req.user) continue;
      mine++;
      if (!s.reserved && (!oldest || s.lastSeen < oldest[1].lastSeen || (s.lastSeen === oldest[1].lastSeen && s.created < oldest[1].created))) oldest = entry;
    }
    let evicted: SessionTarget | undefined;
    if (mine >= req.limits.maxSessionsPerUser || (total >= req.limits.maxSessions && mine > 0)) {
      if (!oldest) {
        const retryAfter = this.secondsUntilFree(now, req.idleMs, (s) => s.user === req.user);
        return {
          ok: false,
          limit: 'user_sessions',
          retryAfter,
          message: `Session quota exceeded: one user or API key may have ${req.limits.maxSessionsPerUser} concurrent sessions, all still opening; retry shortly`,
        };
      }
      const [name, s] = oldest;
      evicted = { name, binding: s.binding, server: s.server, user: s.user };
      this.remove(name);
      total--;
    }
    if (total >= req.limits.maxSessions) {
      const retryAfter = this.secondsUntilFree(now, req.idleMs, () => true);
      return {
        ok: false,
        limit: 'tenant_sessions',
        retryAfter,
        message: `Session quota exceeded: this tenant may have ${req.limits.maxSessions} concurrent sessions, held by other users or keys; retry when one ends or expires`,
      };
    }
    const reservation = `pending:${crypto.randomUUID()}`;
    this.put(reservation, {
      user: req.user,
      server: req.server,
      binding: req.binding,
      created: now,
      lastSeen: now,
      reserved: true,
      handle: crypto.randomUUID(),
    });
    return { ok: true, reservation, ...(evicted ? { evicted } : {}) };
  }

  /** Turn a reservation into the session the framework created. */
  confirm(reservation: string, session: string, now: number): void {
    const held = this.sessions.get(reservation);
    this.remove(reservation);
    this.put(session, {
      user: held?.user ?? 'unknown',
      server: held?.server ?? '',
      binding: held?.binding ?? '',
      created: held?.created ?? now,
      lastSeen: now,
      reserved: false,
      handle: crypto.randomUUID(),
    });
  }

  /**
   * A request within an open session, made at `seenAt` (now, or earlier when an isolate reports
   * requests it admitted from a lease): false when the session is unknown, ended or long idle.
   */
  touch(session: string, now: number, idleMs: number, seenAt = now): boolean {
    const record = this.sessions.get(session);
    if (!record || record.reserved || now - record.lastSeen > idleMs + FORGET_GRACE_MS) return false;
    record.lastSeen = Math.max(record.lastSeen, seenAt);
    if (now - (this.persisted.get(session) ?? 0) >= PERSIST_TOUCH_MS) this.write(session, record);
    return true;
  }

  /** Forget a session or reservation. Idempotent; true when there was one. */
  remove(id: string): boolean {
    this.persisted.delete(id);
    if (!this.sessions.delete(id)) return false;
    this.sql.exec('DELETE FROM sessions WHERE id = ?', id);
    return true;
  }

  /** Open sessions (reservations excluded), optionally of one user or key. */
  list(user?: string): SessionInfo[] {
    const out: SessionInfo[] = [];
    for (const s of this.sessions.values()) {
      if (s.reserved || (user !== undefined && s.user !== user)) continue;
      out.push({ handle: s.handle, user: s.user, server: s.server, created: s.created, lastSeen: s.lastSeen });
    }
    return out.sort((a, b) => b.lastSeen - a.lastSeen);
  }

  /** Forget the session with this handle (of this user, when given) and say where it lives. */
  take(handle: string, user?: string): SessionTarget | null {
    for (const [name, s] of this.sessions) {
      if (s.reserved || s.handle !== handle || (user !== undefined && s.user !== user)) continue;
      this.remove(name);
      return { name, binding: s.binding, server: s.server, user: s.user };
    }
    return null;
  }

  /** Forget every session (the tenant was deleted). */
  clear(): void {
    this.sessions.clear();
    this.persisted.clear();
    this.sql.exec('DELETE FROM sessions');
  }

  count(): number {
    return [...this.sessions.values()].filter((s) => !s.reserved).length;
  }

  /** Seconds until the earliest matching session's idle expiry (or reservation timeout) can free a slot. */
  private secondsUntilFree(now: number, idleMs: number, match: (s: SessionRecord) => boolean): number {
    const { delay } = expiryDelayMs(idleMs);
    let earliest = Infinity;
    for (const s of this.sessions.values()) {
      if (match(s)) earliest = Math.min(earliest, s.lastSeen + (s.reserved ? RESERVATION_MS : delay));
    }
    return earliest === Infinity ? 1 : Math.max(1, Math.ceil((earliest - now) / 1000));
  }

  /** Forget reservations never confirmed and sessions whose idle expiry cannot have been missed. */
  private prune(now: number, idleMs: number): void {
    for (const [id, s] of this.sessions) {
      if (now - s.lastSeen > (s.reserved ? RESERVATION_MS : idleMs + FORGET_GRACE_MS)) this.remove(id);
    }
  }

  private put(id: string, record: SessionRecord): void {
    this.sessions.set(id, record);
    this.write(id, record);
  }

  private write(id: string, r: SessionRecord): void {
    this.persisted.set(id, r.lastSeen);
    this.sql.exec(
      'INSERT OR REPLACE INTO sessions (id, user, last_seen, reserved, server, binding, created, handle) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      id,
      r.user,
      r.lastSeen,
      r.reserved ? 1 : 0,
      r.server,
      r.binding,
      r.created,
      r.handle,
    );
  }
}
