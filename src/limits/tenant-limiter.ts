import { DurableObject } from 'cloudflare:workers';
import { afterFailure, EMPTY_BACKOFF, waitMs, type BackoffState } from './backoff';
import { CredentialCounter } from './credential-counter';
import type { CredentialLimits, CredentialUsage, WindowName } from './credential-windows';
import { SessionRegistry, type SessionInfo, type SessionTarget } from './session-registry';
import type { TenantLimits } from './tenant-limits';

/** Which limit refused a request; audited as `limit.<which>` (`credential` as `limit.api_key` or `limit.user`). */
export type LimitName = 'tenant_rpm' | 'tenant_sessions' | 'user_sessions' | 'credential';

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
  /** Server name and its session binding, recorded with an opening session (listing, eviction). */
  server: string;
  binding: string;
  /** The credential's per-minute/hour/day limits: the key's own, else the tenant's default. */
  credential: CredentialLimits;
}

export type AdmitResult =
  | { ok: true; reservation?: string; evicted?: SessionTarget }
  | { ok: false; limit: LimitName; retryAfter: number; message: string; window?: WindowName }
  | { ok: false; limit: 'unknown_session' };

const WINDOW_MS = 60_000;

/** A paced window unlocks its budget in steps of this long (tenant-limiter.ts, `cap`). */
export const PACE_STEP_MS = 1000;

/**
 * Requests a paced window allows `elapsedMs` into it: the share of the minute's budget for the
 * steps begun so far (at least one request per step), never more than the budget.
 */
export function paceCap(rpm: number, elapsedMs: number): number {
  const steps = Math.floor(elapsedMs / PACE_STEP_MS) + 1;
  return Math.min(rpm, Math.max(steps, Math.ceil((rpm * steps * PACE_STEP_MS) / WINDOW_MS)));
}

/** The longest a lease is usable: unused requests return to the tenant within about this long. */
export const LEASE_MAX_MS = 1000;

/** The most requests one lease may hold against a limit: a tenth of it, at least ten (never more than is left, nor than the isolate asks for). */
export const leaseSize = (limit: number) => Math.max(10, Math.ceil(limit / 10));

/**
 * A lease request: the caller and the limits that apply, as in `admit`, plus the sessions of this
 * caller the isolate served from its lease since it last reported (`[session name, last request
 * time]`), touched here in one call for liveness and least-recently-used eviction.
 */
export type LeaseRequest = Pick<AdmitRequest, 'user' | 'limits' | 'credential'> & { idleMs?: number; seen?: Sighting[]; want?: number };

/** A session an isolate served from its lease, and when it last did. */
export type Sighting = [session: string, seenAt: number];

/** Of the sessions reported, those the limiter no longer knows (ended, evicted, expired): the isolate stops admitting them locally. */
export type Liveness = { gone: string[] };

/** A refusal of the tenant's rate or the credential's windows (a lease gets no other). */
export type RateRefusal = { ok: false; limit: 'tenant_rpm' | 'credential'; retryAfter: number; message: string; window?: WindowName };

export type LeaseResult = ({ ok: true; granted: number; grantedAt: number; validMs: number } | RateRefusal) & Partial<Liveness>;

function credentialRefusal(user: string, c: { window: WindowName; limit: number; retryAfter: number }): RateRefusal {
  const who = user.startsWith('key:') ? 'API key' : 'user';
  return {
    ok: false,
    limit: 'credential',
    window: c.window,
    retryAfter: c.retryAfter,
    message: `Rate limit exceeded: this ${who} may make ${c.limit} requests per ${c.window === 'day' ? 'UTC day' : c.window}`,
  };
}

/**
 * The exact limits of one tenant, in one Durable Object per tenant (`tenant:<id>`): requests per
 * fixed one-minute window, each credential's minute/hour/day windows (credential-counter.ts), and the registry of its open sessions (session-registry.ts) for the
 * concurrent-session quotas, liveness and least-recently-used eviction. The gate makes one
 * `admit` call per request that opens a session (check, count and slot reservation in a single
 * round trip); every other MCP request is admitted from `lease`d slices (lease-budget.ts), whose
 * calls also carry the touches of the sessions served from them; a Durable Object is
 * single-threaded, so two requests can never both take the last slot.
 * Instances named `signin-account:<email>` / `signin-ip:<ip>` hold one sign-in back-off record
 * each (exact, see backoff.ts).
 *
 * Sessions persist in SQLite (they must survive eviction); the request counter lives in memory
 * only: an evicted limiter forgets at most the current minute, which errs on the side of serving.
 */
export class TenantLimiter extends DurableObject<Env> {
  private windowStart = 0;
  private windowCount = 0;
  /** Start of the last window in which the tenant's rate refused a request (0 = none remembered). */
  private refusedWindow = 0;
  /** This window's budget unlocks over the minute (paceCap): the tenant was refused in the one before. */
  private paced = false;
  private registry!: SessionRegistry;
  private credentials!: CredentialCounter;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      this.registry = new SessionRegistry(ctx.storage.sql);
      this.credentials = new CredentialCounter(ctx.storage.sql);
    });
  }

  /** Count the request against the tenant's rate, apply session quotas when it opens a session. */
  async admit(req: AdmitRequest): Promise<AdmitResult> {
    const now = Date.now();
    const full = this.tenantFull(req.limits, now);
    if (full) return full;
    // The caller's own minute/hour/day windows, counted only when the request is admitted.
    const credential = this.credentials.admit(req.user, req.credential, now);
    if (!credential.ok) return credentialRefusal(req.user, credential);
    this.windowCount++;
    if (req.session !== undefined && !req.opening)
      return this.registry.touch(req.session, now, req.idleMs) ? { ok: true } : { ok: false, limit: 'unknown_session' };
    if (!req.opening) return { ok: true };
    return this.registry.open({ user: req.user, server: req.server, binding: req.binding, limits: req.limits, idleMs: req.idleMs }, now);
  }

  /**
   * A slice of the tenant's and the credential's budgets for an isolate to admit session-less
   * requests from locally (lease-budget.ts): counted now, as if that many requests were admitted,
   * so the windows are never exceeded; usable until the minute window ends or LEASE_MAX_MS, so a
   * slice can never be spent in the next window; unused requests come back through `giveBack`.
   */
  async lease(req: LeaseRequest): Promise<LeaseResult> {
    const now = Date.now();
    const gone = this.touchAll(req.seen, now, req.idleMs ?? 0);
    const full = this.tenantFull(req.limits, now);
    if (full) return { ...full, gone };
    const rpm = req.limits.requestsPerMinute;
    const open = this.cap(rpm, now) - this.windowCount;
    const want = Math.max(1, Math.min(req.want ?? Infinity, open, leaseSize(rpm), leaseSize(req.credential.perMinute)));
    const credential = this.credentials.lease(req.user, req.credential, now, want);
    if (!credential.ok) return credentialRefusal(req.user, credential);
    this.windowCount += credential.granted;
    return {
      ok: true,
      granted: credential.granted,
      grantedAt: now,
      validMs: Math.min(LEASE_MAX_MS, this.windowStart + WINDOW_MS - now),
      gone,
    };
  }

  /**
   * Unused requests of a lease granted at `grantedAt` go back to the windows they were counted in;
   * sessions served from it since the last report are touched (see `lease`).
   */
  async giveBack(user: string, unused: number, grantedAt: number, seen?: Sighting[], idleMs = 0): Promise<Liveness> {
    const gone = this.touchAll(seen, Date.now(), idleMs);
    if (unused > 0) {
      if (this.windowStart === grantedAt - (grantedAt % WINDOW_MS)) this.windowCount = Math.max(0, this.windowCount - unused);
      this.credentials.giveBack(user, unused, grantedAt);
    }
    return { gone };
  }

  /** Touch each reported session at its last request time; the names of those no longer open. */
  private touchAll(seen: Sighting[] | undefined, now: number, idleMs: number): string[] {
    const gone: string[] = [];
    for (const [session, seenAt] of seen ?? []) if (!this.registry.touch(session, now, idleMs, Math.min(seenAt, now))) gone.push(session);
    return gone;
  }

  /**
   * Starts a new window when the minute changed; the refusal when the tenant's window is full, or
   * (paced) when the part of it unlocked so far is spent. A paced refusal's Retry-After is the next
   * unlock; a full window's, its end.
   */
  private tenantFull(limits: TenantLimits, now: number): RateRefusal | undefined {
    if (now - this.windowStart >= WINDOW_MS) {
      const start = now - (now % WINDOW_MS);
      this.paced = this.refusedWindow === start - WINDOW_MS;
      this.windowStart = start;
      this.windowCount = 0;
    }
    const rpm = limits.requestsPerMinute;
    const cap = this.cap(rpm, now);
    if (this.windowCount < cap) return undefined;
    this.refusedWindow = this.windowStart;
    const until = cap < rpm ? now + PACE_STEP_MS - ((now - this.windowStart) % PACE_STEP_MS) : this.windowStart + WINDOW_MS;
    const retryAfter = Math.max(1, Math.ceil((until - now) / 1000));
    return { ok: false, limit: 'tenant_rpm', retryAfter, message: `Rate limit exceeded: this tenant may make ${rpm} requests per minute` };
  }

  /**
   * How much of this window's budget may be used by `now`: all of it, unless the tenant was refused
   * for its rate in the window just before (it is hammering past its limit). Then the budget unlocks
   * in one-second steps across the minute (`paceCap`), so a tenant that keeps hammering never gets
   * its whole minute served in a burst at the window's start, at the expense of other tenants'
   * latency, while one that stays within its limit never notices.
   */
  private cap(rpm: number, now: number): number {
    return this.paced ? paceCap(rpm, now - this.windowStart) : rpm;
  }

  /** Turn a reservation into the session the framework created. */
  async register(reservation: string, session: string): Promise<void> {
    this.registry.confirm(reservation, session, Date.now());
  }

  /** Give back a session slot (DELETE by its owner, idle expiry) or an unused reservation. Idempotent. */
  async release(session: string): Promise<void> {
    this.registry.remove(session);
  }

  /** Open sessions (reservations excluded), for metrics and tests. */
  async openSessions(): Promise<number> {
    return this.registry.count();
  }

  /** The tenant's open sessions, or one user's or key's, most recently used first. */
  async listSessions(user?: string): Promise<SessionInfo[]> {
    return this.registry.list(user);
  }

  /** Forget the session with this handle (only if it belongs to `user`, when given); where it lives, to end it. */
  async takeSession(handle: string, user?: string): Promise<SessionTarget | null> {
    return this.registry.take(handle, user);
  }

  /** Request counts (this minute, hour, UTC day, all time) of credentials (`key:<id>`, user ids). */
  async credentialUsage(ids: string[]): Promise<Record<string, CredentialUsage>> {
    return this.credentials.usage(ids, Date.now());
  }

  /** The tenant was deleted: forget its sessions and request window, so a re-created tenant starts empty. */
  async forget(): Promise<void> {
    this.registry.clear();
    this.credentials.clear();
    this.windowStart = this.windowCount = this.refusedWindow = 0;
    this.paced = false;
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
}
