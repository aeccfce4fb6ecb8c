import { sharedAnswer, waitFor } from '../isolate/shared-answer';
import {
  LEASE_MAX_MS,
  type AdmitRequest,
  type AdmitResult,
  type LeaseRequest,
  type LeaseResult,
  type Liveness,
  type RateRefusal,
  type Sighting,
} from './tenant-limiter';

/** The limiter calls a lease holder makes (the TenantLimiter stub, or a stand-in in tests). */
export interface LeaseSource {
  lease(req: LeaseRequest): Promise<LeaseResult>;
  admit(req: AdmitRequest): Promise<AdmitResult>;
  giveBack(user: string, unused: number, grantedAt: number, seen?: Sighting[], idleMs?: number): Promise<Liveness | void>;
}

interface Lease {
  granted: number;
  remaining: number;
  /** Local clock: the lease may be spent strictly before this. */
  expiresAt: number;
  /** The limiter's clock when it granted the lease (names the windows it was counted in). */
  grantedAt: number;
  source: LeaseSource;
  user: string;
  tenant: string;
  idleMs: number;
}

/** Entries kept per isolate at most (leases, live sessions); beyond it, expired ones are dropped first, then all. */
const MAX_ENTRIES = 10_000;

/**
 * How long the limiter's word that a session is open lets this isolate admit the session's
 * requests from a lease without asking again. Every lease call and give-back re-confirms the
 * sessions served since the last one, so a busy session is re-confirmed about once a second; a
 * session ended elsewhere (DELETE, eviction, an End from the dashboard) is admitted here for at
 * most this long after, and its object answers those requests 404 itself (docs/security.md).
 */
export const LIVE_MS = 2 * LEASE_MAX_MS;

/**
 * Leases are sized to this isolate's demand, so a caller that uses little holds little of its
 * tenant's budget: the first lease asks for FIRST_WANT requests, a lease spent before it expires
 * asks for GROWTH times as many next time, and a lease that expired asks next for twice what it
 * served (at least FIRST_WANT); the limiter caps each at `leaseSize` of the limits.
 */
export const FIRST_WANT = 10;
const GROWTH = 4;

const ADMITTED: AdmitResult = { ok: true };

/**
 * How long a request waits for the lease another request of its isolate is asking for, before
 * making the exact call itself. A lease call takes milliseconds; one still unanswered by then (a
 * limiter that slow, or a request cancelled mid-call) is given up by the requests waiting on it.
 */
const ASK_WAIT_MS = LEASE_MAX_MS;

/**
 * Admission of MCP requests without a limiter round trip per request: this isolate leases a slice
 * of a tenant's and a credential's budgets from the tenant's TenantLimiter (`lease`: sized to this
 * isolate's recent demand, FIRST_WANT; at most a tenth of the limit, at least ten, never more than
 * is left) and admits requests from it locally until
 * it is spent or expires (the end of the limiter's minute window, at most LEASE_MAX_MS), then asks
 * again. The limiter counts a slice when it grants it, so no window is ever exceeded; unused
 * requests are given back when the lease expires, in the `waitUntil` of the request that took it.
 *
 * Requests within a session are admitted the same way once the limiter has confirmed the session
 * is open (its first request here makes the exact `admit` call, which also touches it); the
 * sessions served from a lease are reported with the next lease call or give-back, which touches
 * them (least-recently-used eviction, listing) and names those that ended, so each is re-confirmed
 * at least every LIVE_MS while it is used. Requests that open a session never come here: session
 * quotas stay exact (`admitMcpRequest`). Exactness is discussed in docs/security.md ("Leased admission").
 */
export class LeaseBudget {
  private readonly leases = new Map<string, Lease>();
  /**
   * `tenant\0user` → the ask in progress: `answer` is settled when it has the limiter's answer (its
   * refusal, or null). Not waited on from `until` on: a request cancelled mid-call never settles it.
   */
  private readonly asking = new Map<string, { answer: Promise<RateRefusal | null>; until: number }>();
  /** `tenant\0session` → local time until which the session's requests may be admitted from a lease. */
  private readonly live = new Map<string, number>();
  /** `tenant\0user` → sessions served from that caller's leases since the last report, and when last. */
  private readonly seen = new Map<string, Map<string, number>>();
  /** `tenant\0user` → how many requests the next lease asks for (see FIRST_WANT). */
  private readonly wants = new Map<string, number>();

  /**
   * Admit one request of `req.user` in `tenant`: from this isolate's lease when it is session-less
   * or in a session the limiter confirmed within LIVE_MS, asking for a new lease when it is spent;
   * otherwise through the limiter's exact `admit`. The limiter's result when it refuses (tenant_rpm
   * or credential with its truthful Retry-After, unknown_session). While one request of the
   * isolate is asking for a lease, others wait for its answer (src/isolate/shared-answer.ts; at most
   * ASK_WAIT_MS, then the exact call) and take from the new lease or share its refusal, so a burst
   * costs one limiter call per lease rather than one per request, and an isolate never holds more
   * than one lease per tenant and credential.
   */
  async admit(tenant: string, source: LeaseSource, req: AdmitRequest, ctx: Pick<ExecutionContext, 'waitUntil'>): Promise<AdmitResult> {
    if (req.opening) return source.admit(req);
    const key = `${tenant}\u0000${req.user}`;
    let giveUpAt: number | undefined; // set when this request first waits
    for (;;) {
      const now = Date.now();
      if (req.session !== undefined && !((this.live.get(`${tenant}\u0000${req.session}`) ?? 0) > now)) return this.exact(tenant, source, req);
      const lease = this.leases.get(key);
      if (lease && lease.remaining > 0 && now < lease.expiresAt) {
        lease.remaining--;
        this.sight(key, req.session, now);
        return ADMITTED;
      }
      const asking = this.asking.get(key);
      if (!asking || now >= asking.until) return this.ask(tenant, source, req, ctx, key, lease, now);
      // Another request of this isolate is asking: wait for its lease rather than call the limiter
      // too, and share the limiter's refusal if it refused (it applies to this request alike).
      giveUpAt ??= now + ASK_WAIT_MS;
      if (now >= giveUpAt) return this.exact(tenant, source, req);
      const answered = await waitFor(asking.answer, Math.min(giveUpAt, asking.until) - now);
      if (answered.settled && answered.value) return answered.value;
    }
  }

  /** Ask the limiter for a new lease for `key`, this request taking the first of it. */
  private async ask(
    tenant: string,
    source: LeaseSource,
    req: AdmitRequest,
    ctx: Pick<ExecutionContext, 'waitUntil'>,
    key: string,
    lease: Lease | undefined,
    now: number,
  ): Promise<AdmitResult> {
    const answer = sharedAnswer<RateRefusal | null>();
    const asking = { answer: answer.answer, until: now + ASK_WAIT_MS };
    if (this.asking.size >= MAX_ENTRIES) this.asking.clear(); // only asks of cancelled requests linger
    this.asking.set(key, asking);
    let refusal: RateRefusal | null = null;
    try {
      const asked = Date.now();
      // This request's own session is reported with the call, so the limiter sees it used now.
      this.sight(key, req.session, asked);
      const seen = this.takeSightings(key);
      // A lease spent before its time asks for more; otherwise what the last one's use said.
      const want = lease && lease.remaining <= 0 && now < lease.expiresAt ? lease.granted * GROWTH : (this.wants.get(key) ?? FIRST_WANT);
      const result = await source.lease({ user: req.user, limits: req.limits, credential: req.credential, idleMs: req.idleMs, seen, want });
      this.confirm(tenant, seen, result.gone, asked);
      if (!result.ok) return (refusal = result);
      // The limiter says this request's session has ended: refused like the exact call would, its request kept in the lease.
      const ended = req.session !== undefined && !!result.gone?.includes(req.session);
      // Measured from before the call, so the lease ends no later than the limiter's window does.
      const next: Lease = {
        granted: result.granted,
        remaining: result.granted - (ended ? 0 : 1),
        expiresAt: asked + result.validMs,
        grantedAt: result.grantedAt,
        source,
        user: req.user,
        tenant,
        idleMs: req.idleMs,
      };
      this.store(key, next);
      ctx.waitUntil(this.returnUnused(key, next));
      return ended ? { ok: false, limit: 'unknown_session' } : ADMITTED;
    } finally {
      if (this.asking.get(key) === asking) this.asking.delete(key);
      answer.resolve(refusal);
    }
  }

  /** The session ended through this isolate (its owner's DELETE, an eviction): never admit it locally again. */
  forget(tenant: string, session: string): void {
    this.live.delete(`${tenant}\u0000${session}`);
  }

  /** Unused requests of every lease this isolate holds, for tests and metrics. */
  held(): number {
    let n = 0;
    for (const lease of this.leases.values()) if (Date.now() < lease.expiresAt) n += lease.remaining;
    return n;
  }

  /** Sessions served from leases and not yet reported to their limiter, for tests. */
  unreported(): number {
    let n = 0;
    for (const sessions of this.seen.values()) n += sessions.size;
    return n;
  }

  /** The limiter's exact admission (counts, touches and confirms the session). */
  private async exact(tenant: string, source: LeaseSource, req: AdmitRequest): Promise<AdmitResult> {
    const asked = Date.now();
    const result = await source.admit(req);
    if (req.session !== undefined) {
      if (result.ok) this.markLive(`${tenant}\u0000${req.session}`, asked + LIVE_MS);
      else if (result.limit === 'unknown_session') this.forget(tenant, req.session);
    }
    return result;
  }

  private sight(key: string, session: string | undefined, at: number): void {
    if (session === undefined) return;
    let sessions = this.seen.get(key);
    if (!sessions) this.seen.set(key, (sessions = new Map()));
    sessions.set(session, at);
  }

  private takeSightings(key: string): Sighting[] | undefined {
    const sessions = this.seen.get(key);
    if (!sessions) return undefined;
    this.seen.delete(key);
    return [...sessions];
  }

  /** The limiter answered about the sessions reported at `asked`: the open ones stay live, the others never again. */
  private confirm(tenant: string, seen: Sighting[] | undefined, gone: string[] | undefined, asked: number): void {
    if (!seen) return;
    const ended = new Set(gone);
    for (const [session] of seen) {
      if (ended.has(session)) this.forget(tenant, session);
      else this.markLive(`${tenant}\u0000${session}`, asked + LIVE_MS);
    }
  }

  private markLive(liveKey: string, until: number): void {
    if (this.live.size >= MAX_ENTRIES && !this.live.has(liveKey)) {
      const now = Date.now();
      for (const [k, u] of this.live) if (u <= now) this.live.delete(k);
      if (this.live.size >= MAX_ENTRIES) this.live.clear(); // sessions then make the exact call again: never over-admits
    }
    this.live.set(liveKey, until);
  }

  private store(key: string, lease: Lease): void {
    if (this.leases.size >= MAX_ENTRIES) {
      const now = Date.now();
      for (const [k, l] of this.leases) if (l.expiresAt <= now) this.leases.delete(k);
      if (this.leases.size >= MAX_ENTRIES) this.leases.clear(); // held slices then lapse unused: never over-admits
    }
    this.leases.set(key, lease);
  }

  /**
   * When the lease expires, its unused requests go back to the limiter with the sessions served
   * since the last report (best effort: a failure only under-admits, and the sessions' liveness
   * then lapses and is asked for again).
   */
  private async returnUnused(key: string, lease: Lease): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, lease.expiresAt - Date.now())));
    const unused = lease.remaining;
    lease.remaining = 0;
    if (this.leases.get(key) === lease) {
      this.leases.delete(key);
      if (this.wants.size >= MAX_ENTRIES) this.wants.clear();
      this.wants.set(key, Math.max(FIRST_WANT, 2 * (lease.granted - unused)));
    }
    const seen = this.takeSightings(key);
    if (unused <= 0 && !seen) return;
    const asked = Date.now();
    const answer = await lease.source.giveBack(lease.user, unused, lease.grantedAt, seen, lease.idleMs).catch(() => null);
    if (answer) this.confirm(lease.tenant, seen, answer.gone, asked);
    else if (answer === null) for (const [session, at] of seen ?? []) this.sight(key, session, at); // reported with the next call
  }
}

/** This isolate's lease holder. */
export const isolateBudget = new LeaseBudget();

/**
 * The one admission call of an MCP request: requests that open a session through the limiter's
 * exact `admit` (session quotas), every other from this isolate's lease (see LeaseBudget).
 */
export async function admitMcpRequest(stub: LeaseSource, tenant: string, req: AdmitRequest, ctx: Pick<ExecutionContext, 'waitUntil'>): Promise<AdmitResult> {
  return isolateBudget.admit(tenant, stub, req, ctx);
}
