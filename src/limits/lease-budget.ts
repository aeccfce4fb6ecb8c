import type { AdmitRequest, AdmitResult, LeaseResult, RateRefusal } from './tenant-limiter';

/** The limiter calls a lease holder makes (the TenantLimiter stub, or a stand-in in tests). */
export interface LeaseSource {
  lease(req: Pick<AdmitRequest, 'user' | 'limits' | 'credential'>): Promise<LeaseResult>;
  admit(req: AdmitRequest): Promise<AdmitResult>;
  giveBack(user: string, unused: number, grantedAt: number): Promise<void>;
}

interface Lease {
  remaining: number;
  /** Local clock: the lease may be spent strictly before this. */
  expiresAt: number;
  /** The limiter's clock when it granted the lease (names the windows it was counted in). */
  grantedAt: number;
  source: LeaseSource;
  user: string;
}

/** Entries kept per isolate at most; beyond it, expired leases are dropped first, then all. */
const MAX_LEASES = 10_000;

/**
 * Admission of session-less MCP requests (the 2026-07-28 lane) without a limiter round trip per
 * request: this isolate leases a slice of a tenant's and a credential's budgets from the tenant's
 * TenantLimiter (`lease`: up to a tenth of the limit, at least ten, never more than is left) and
 * admits requests from it locally until it is spent or expires (the end of the limiter's minute
 * window, at most LEASE_MAX_MS), then asks again. The limiter counts a slice when it grants it, so no window is ever
 * exceeded; unused requests are given back when the lease expires, in the `waitUntil` of the
 * request that took the lease. Exactness is discussed in docs/security.md ("Rate limits").
 */
export class LeaseBudget {
  private readonly leases = new Map<string, Lease>();
  private readonly asking = new Set<string>();

  /**
   * Admit one request of `req.user` in `tenant` from this isolate's lease, asking for a new one when
   * it is spent: undefined when admitted, else the limiter's refusal (tenant_rpm or credential,
   * with its truthful Retry-After). While one request of the isolate is asking, others make the
   * limiter's exact `admit` call instead (Workers forbid waiting on another request's I/O), so an
   * isolate never holds more than one lease per tenant and credential.
   */
  async admit(tenant: string, source: LeaseSource, req: AdmitRequest, ctx: Pick<ExecutionContext, 'waitUntil'>): Promise<RateRefusal | undefined> {
    const key = `${tenant}\u0000${req.user}`;
    const lease = this.leases.get(key);
    if (lease && lease.remaining > 0 && Date.now() < lease.expiresAt) {
      lease.remaining--;
      return undefined;
    }
    if (this.asking.has(key)) {
      const result = await source.admit(req);
      return result.ok ? undefined : (result as RateRefusal);
    }
    this.asking.add(key);
    try {
      const asked = Date.now();
      const result = await source.lease({ user: req.user, limits: req.limits, credential: req.credential });
      if (!result.ok) return result;
      // Measured from before the call, so the lease ends no later than the limiter's window does.
      const next: Lease = { remaining: result.granted - 1, expiresAt: asked + result.validMs, grantedAt: result.grantedAt, source, user: req.user };
      this.store(key, next);
      ctx.waitUntil(this.returnUnused(key, next));
      return undefined;
    } finally {
      this.asking.delete(key);
    }
  }

  /** Unused requests of every lease this isolate holds, for tests and metrics. */
  held(): number {
    let n = 0;
    for (const lease of this.leases.values()) if (Date.now() < lease.expiresAt) n += lease.remaining;
    return n;
  }

  private store(key: string, lease: Lease): void {
    if (this.leases.size >= MAX_LEASES) {
      const now = Date.now();
      for (const [k, l] of this.leases) if (l.expiresAt <= now) this.leases.delete(k);
      if (this.leases.size >= MAX_LEASES) this.leases.clear(); // held slices then lapse unused: never over-admits
    }
    this.leases.set(key, lease);
  }

  /** When the lease expires, its unused requests go back to the limiter (best effort: a failure only under-admits). */
  private async returnUnused(key: string, lease: Lease): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, lease.expiresAt - Date.now())));
    const unused = lease.remaining;
    lease.remaining = 0;
    if (this.leases.get(key) === lease) this.leases.delete(key);
    if (unused > 0) await lease.source.giveBack(lease.user, unused, lease.grantedAt).catch(() => undefined);
  }
}

/** This isolate's lease holder. */
export const isolateBudget = new LeaseBudget();

/** Whether a request is admitted from a lease: it belongs to no session and opens none (no quota or liveness to check). */
export const leasable = (req: Pick<AdmitRequest, 'session' | 'opening'>) => req.session === undefined && !req.opening;

/**
 * The one admission call of an MCP request: session-less requests from this isolate's lease, the
 * others (session quotas, liveness) through the limiter's exact `admit`.
 */
export async function admitMcpRequest(stub: LeaseSource, tenant: string, req: AdmitRequest, ctx: Pick<ExecutionContext, 'waitUntil'>): Promise<AdmitResult> {
  if (!leasable(req)) return stub.admit(req);
  return (await isolateBudget.admit(tenant, stub, req, ctx)) ?? { ok: true };
}
