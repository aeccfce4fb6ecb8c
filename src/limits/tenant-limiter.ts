import { DurableObject } from 'cloudflare:workers';
import { afterFailure, EMPTY_BACKOFF, waitMs, type BackoffState } from './backoff';
import type { TenantLimits } from './tenant-limits';

/** Which limit refused a request; audited as `limit.<which>`. */
export type LimitName = 'tenant_rpm' | 'tenant_sessions' | 'user_sessions';

/** One MCP request as the gate describes it to its tenant's limiter. */
export interface AdmitRequest {
  /** Session quota key: the user id, or `key:<id>` for an API key. */
  user: string;
  limits: TenantLimits;
  /** Durable Object name of the session the request belongs to (`streamable-http:<id>`, `sse:<id>`). */
  session?: string;
  /** The request opens a session (initialize, or a new legacy SSE stream): session quotas apply. */
  opening: boolean;
  /** The platform's idle expiry; sessions unseen for longer (plus a grace period) are forgotten. */
  idleMs: number;
}

export type AdmitResult =
  | { ok: true; reservation?: string }
  | { ok: false; limit: LimitName; retryAfter: number; message: string }
  | { ok: false; limit: 'unknown_session' };

const WINDOW_MS = 60_000;
const RESERVATION_MS = 60_000;
const TOUCH_EVERY_MS = 60_000;
const FORGET_GRACE_MS = 5 * 60_000;

interface SessionRecord {
  user: string;
  lastSeen: number;
  reserved: boolean;
}

/**
 * The exact limits of one tenant, in one Durable Object per tenant (`tenant:<id>`): requests per
 * fixed one-minute window, and the registry of its open sessions for the concurrent-session
 * quotas. The gate makes one `admit` call per MCP request, so the check, the count and the session
 * touch are a single round trip; a Durable Object is single-threaded, so two requests can never
 * both take the last slot. Instances named `signin-account:<email>` / `signin-ip:<ip>` hold one
 * sign-in back-off record each (exact, see backoff.ts).
 *
 * Sessions persist in SQLite (they must survive eviction); the request counter lives in memory
 * only: an evicted limiter forgets at most the current minute, which errs on the side of serving.
 */
export class TenantLimiter extends DurableObject<Env> {
  private windowStart = 0;
  private windowCount = 0;
  private readonly sessions = new Map<string, SessionRecord>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.sql('CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user TEXT NOT NULL, last_seen INTEGER NOT NULL, reserved INTEGER NOT NULL)');
      for (const row of this.sql('SELECT id, user, last_seen, reserved FROM sessions').toArray()) {
        this.sessions.set(String(row.id), { user: String(row.user), lastSeen: Number(row.last_seen), reserved: row.reserved === 1 });
      }
    });
  }

  private sql(query: string, ...bindings: SqlStorageValue[]) {
    return this.ctx.storage.sql.exec(query, ...bindings);
  }

  /** Count the request against the tenant's rate, apply session quotas when it opens a session. */
  async admit(req: AdmitRequest): Promise<AdmitResult> {
    const now = Date.now();
    if (now - this.windowStart >= WINDOW_MS) {
      this.windowStart = now - (now % WINDOW_MS);
      this.windowCount = 0;
    }
    if (this.windowCount >= req.limits.requestsPerMinute) {
      const retryAfter = Math.max(1, Math.ceil((this.windowStart + WINDOW_MS - now) / 1000));
      return { ok: false, limit: 'tenant_rpm', retryAfter, message: `Rate limit exceeded: this tenant may make ${req.limits.requestsPerMinute} requests per minute` };
    }
    this.windowCount++;
    if (req.session !== undefined && !req.opening) return this.touch(req.session, now, req.idleMs);
    if (!req.opening) return { ok: true };
    this.prune(now, req.idleMs);
    let total = 0;
    let mine = 0;
    for (const s of this.sessions.values()) {
      total++;
      if (s.user === req.user) mine++;
    }
    if (total >= req.limits.maxSessions) {
      return { ok: false, limit: 'tenant_sessions', retryAfter: 60, message: `Session quota exceeded: this tenant may have ${req.limits.maxSessions} concurrent sessions; end one (DELETE) or wait for idle ones to expire` };
    }
    if (mine >= req.limits.maxSessionsPerUser) {
      return { ok: false, limit: 'user_sessions', retryAfter: 60, message: `Session quota exceeded: one user or API key may have ${req.limits.maxSessionsPerUser} concurrent sessions; end one (DELETE) or wait for idle ones to expire` };
    }
    const reservation = `pending:${crypto.randomUUID()}`;
    this.put(reservation, { user: req.user, lastSeen: now, reserved: true });
    return { ok: true, reservation };
  }

  /** Turn a reservation into the session the framework created. */
  async register(reservation: string, session: string): Promise<void> {
    const held = this.sessions.get(reservation);
    this.remove(reservation);
    this.put(session, { user: held?.user ?? 'unknown', lastSeen: Date.now(), reserved: false });
  }

  /** Give back a session slot (DELETE by its owner, idle expiry) or an unused reservation. Idempotent. */
  async release(session: string): Promise<void> {
    this.remove(session);
  }

  /** Open sessions (reservations excluded), for metrics and tests. */
  async openSessions(): Promise<number> {
    return [...this.sessions.values()].filter((s) => !s.reserved).length;
  }

  /** The tenant was deleted: forget its sessions and request window, so a re-created tenant starts empty. */
  async forget(): Promise<void> {
    this.sessions.clear();
    this.windowStart = this.windowCount = 0;
    this.sql('DELETE FROM sessions');
    await this.ctx.storage.delete('backoff');
  }

  /** Milliseconds this back-off key must still wait before a sign-in attempt (0 = may try now). */
  async backoffWait(): Promise<number> {
    return waitMs(await this.backoff(), Date.now());
  }

  /** Record a failed sign-in; returns the wait before the next attempt. */
  async backoffFailure(freeAttempts: number): Promise<number> {
    const now = Date.now();
    const next = afterFailure(await this.backoff(), now, freeAttempts);
    await this.ctx.storage.put('backoff', next);
    return waitMs(next, now);
  }

  /** A successful sign-in clears the account's failures. */
  async backoffReset(): Promise<void> {
    await this.ctx.storage.delete('backoff');
  }

  private async backoff(): Promise<BackoffState> {
    return (await this.ctx.storage.get<BackoffState>('backoff')) ?? EMPTY_BACKOFF;
  }

  private touch(session: string, now: number, idleMs: number): AdmitResult {
    const record = this.sessions.get(session);
    if (!record || record.reserved || now - record.lastSeen > idleMs + FORGET_GRACE_MS) return { ok: false, limit: 'unknown_session' };
    if (now - record.lastSeen >= TOUCH_EVERY_MS) this.put(session, { ...record, lastSeen: now });
    return { ok: true };
  }

  /** Forget reservations never confirmed and sessions whose idle expiry cannot have been missed. */
  private prune(now: number, idleMs: number): void {
    for (const [id, s] of this.sessions) {
      if (now - s.lastSeen > (s.reserved ? RESERVATION_MS : idleMs + FORGET_GRACE_MS)) this.remove(id);
    }
  }

  private put(id: string, record: SessionRecord): void {
    this.sessions.set(id, record);
    this.sql('INSERT OR REPLACE INTO sessions (id, user, last_seen, reserved) VALUES (?, ?, ?, ?)', id, record.user, record.lastSeen, record.reserved ? 1 : 0);
  }

  private remove(id: string): void {
    if (this.sessions.delete(id)) this.sql('DELETE FROM sessions WHERE id = ?', id);
  }
}
