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

/**
 * The exact limits of one tenant, in one Durable Object per tenant (`tenant:<id>`): requests per
 * fixed one-minute window, each credential's minute/hour/day windows (credential-counter.ts), and the registry of its open sessions (session-registry.ts) for the
 * concurrent-session quotas, liveness and least-recently-used eviction. The gate makes one
 * `admit` call per MCP request, so the check, the count and the session touch are a single round
 * trip; a Durable Object is single-threaded, so two requests can never both take the last slot.
 * Instances named `signin-account:<email>` / `signin-ip:<ip>` hold one sign-in back-off record
 * each (exact, see backoff.ts).
 *
 * Sessions persist in SQLite (they must survive eviction); the request counter lives in memory
 * only: an evicted limiter forgets at most the current minute, which errs on the side of serving.
 */
export class TenantLimiter extends DurableObject<Env> {
  private windowStart = 0;
  private windowCount = 0;
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
    if (now - this.windowStart >= WINDOW_MS) {
      this.windowStart = now - (now % WINDOW_MS);
      this.windowCount = 0;
    }
    if (this.windowCount >= req.limits.requestsPerMinute) {
      const retryAfter = Math.max(1, Math.ceil((this.windowStart + WINDOW_MS - now) / 1000));
      return { ok: false, limit: 'tenant_rpm', retryAfter, message: `Rate limit exceeded: this tenant may make ${req.limits.requestsPerMinute} requests per minute` };
    }
    // The caller's own minute/hour/day windows, counted only when the request is admitted.
    const credential = this.credentials.admit(req.user, req.credential, now);
    if (!credential.ok) {
      const who = req.user.startsWith('key:') ? 'API key' : 'user';
      return { ok: false, limit: 'credential', window: credential.window, retryAfter: credential.retryAfter, message: `Rate limit exceeded: this ${who} may make ${credential.limit} requests per ${credential.window === 'day' ? 'UTC day' : credential.window}` };
    }
    this.windowCount++;
    if (req.session !== undefined && !req.opening) return this.registry.touch(req.session, now, req.idleMs) ? { ok: true } : { ok: false, limit: 'unknown_session' };
    if (!req.opening) return { ok: true };
    return this.registry.open({ user: req.user, server: req.server, binding: req.binding, limits: req.limits, idleMs: req.idleMs }, now);
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
    this.windowStart = this.windowCount = 0;
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
