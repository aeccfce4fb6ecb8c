import { log } from '../observability/log';
import { CircuitBreaker, type BreakerTransition } from './circuit-breaker';
import type { UpstreamHost } from './upstream-host';
import type { UpstreamRecord, UpstreamSettings } from './upstream-model';
import { setBreakerState } from './upstream-store';

/**
 * The circuit breaker of one upstream as its state object keeps it. `CircuitBreaker` is the pure
 * state machine; this is what owning the single shared instance takes: restoring it from storage
 * after the object restarts, saving it, and making each transition visible (logged, audited, and
 * mirrored to D1 as `breaker_state`, which /health and the admin API read).
 */
export class StoredBreaker {
  private breaker: CircuitBreaker | null = null;

  constructor(private readonly host: UpstreamHost) {}

  /** The breaker, restored from storage on first use. */
  async of(record: UpstreamRecord): Promise<CircuitBreaker> {
    if (!this.breaker) {
      const b = new CircuitBreaker(record.settings.failureThreshold, record.settings.cooldownMs);
      const saved = await this.host.storage.get<{ state: CircuitBreaker['state']; failures: number; openedAt: number }>('breaker');
      if (saved) Object.assign(b, saved);
      this.breaker = b;
    }
    return this.breaker;
  }

  /** The admin changed the settings: a breaker in memory takes the new threshold and cooldown. */
  configure(settings: UpstreamSettings): void {
    this.breaker?.configure(settings.failureThreshold, settings.cooldownMs);
  }

  async save(): Promise<void> {
    const b = this.breaker;
    if (b) await this.host.storage.put('breaker', { state: b.state, failures: b.failures, openedAt: b.openedAt });
  }

  /** Forget the breaker in memory (the upstream was deleted; storage is wiped by the caller). */
  forget(): void {
    this.breaker = null;
  }

  /** Pass to the breaker's `admit` and `record`: a state change is logged, audited, mirrored to D1 and saved. */
  readonly transition = (t: BreakerTransition): void => {
    const key = this.host.key!;
    const action = t.to === 'open' ? 'gateway.breaker_open' : t.to === 'half-open' ? 'gateway.breaker_half_open' : 'gateway.breaker_closed';
    log(t.to === 'open' ? 'warn' : 'info', action, { tenant: key.tenant, server: key.name, reason: t.reason });
    this.host.audit({ action, result: t.to === 'open' ? 'error' : 'ok', details: { from: t.from, to: t.to, reason: t.reason } });
    this.host.later(setBreakerState(this.host.env.DB, key.tenant, key.name, t.to).catch(() => undefined));
    this.host.later(this.save());
  };
}
