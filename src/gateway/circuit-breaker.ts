import type { BreakerState } from './upstream-model';

/** A state change the owner audits and persists. */
export interface BreakerTransition {
  from: BreakerState;
  to: BreakerState;
  reason: string;
}

/** What `admit` decided: go ahead (perhaps as the half-open trial), or fail fast until `retryAt`. */
export type Admission = { allowed: true; trial: boolean } | { allowed: false; retryAt: number };

/**
 * The circuit breaker of one upstream (closed → open → half-open → closed), a plain state machine
 * so its rules are unit-testable; the upstream's state object owns the single instance shared by
 * every session of that upstream.
 *
 * Closed: calls flow; `failureThreshold` consecutive failures open it. Open: calls fail fast until
 * `cooldownMs` has passed. Half-open: exactly one trial call goes through (others keep failing
 * fast); its success closes the breaker, its failure re-opens it for another cooldown.
 */
export class CircuitBreaker {
  state: BreakerState = 'closed';
  failures = 0;
  openedAt = 0;
  private trialInFlight = false;
  private trialStartedAt = 0;

  constructor(
    private failureThreshold: number,
    private cooldownMs: number,
  ) {}

  /** Apply new settings (the admin changed them). */
  configure(failureThreshold: number, cooldownMs: number): void {
    this.failureThreshold = failureThreshold;
    this.cooldownMs = cooldownMs;
  }

  /** Decide whether a call may go out now; may move open → half-open. */
  admit(now: number, onTransition: (t: BreakerTransition) => void): Admission {
    if (this.state === 'closed') return { allowed: true, trial: false };
    if (this.state === 'open') {
      if (now - this.openedAt < this.cooldownMs) return { allowed: false, retryAt: this.openedAt + this.cooldownMs };
      this.move('half-open', 'cooldown elapsed', onTransition);
    }
    // half-open: one trial at a time; a trial that never reported back is abandoned after a cooldown.
    if (this.trialInFlight && now - this.trialStartedAt < this.cooldownMs) return { allowed: false, retryAt: this.trialStartedAt + this.cooldownMs };
    this.trialInFlight = true;
    this.trialStartedAt = now;
    return { allowed: true, trial: true };
  }

  /** Record a call's outcome. Failures are upstream faults (unreachable, timeout, 5xx), not tool errors. */
  record(ok: boolean, now: number, reason: string, onTransition: (t: BreakerTransition) => void): void {
    if (ok) {
      this.failures = 0;
      this.trialInFlight = false;
      if (this.state !== 'closed') this.move('closed', 'upstream answered', onTransition);
      return;
    }
    this.failures += 1;
    if (this.state === 'half-open') {
      this.trialInFlight = false;
      this.open(now, `trial failed: ${reason}`, onTransition);
    } else if (this.state === 'closed' && this.failures >= this.failureThreshold) {
      this.open(now, `${this.failures} consecutive failures, last: ${reason}`, onTransition);
    }
  }

  private open(now: number, reason: string, onTransition: (t: BreakerTransition) => void): void {
    this.openedAt = now;
    this.move('open', reason, onTransition);
  }

  private move(to: BreakerState, reason: string, onTransition: (t: BreakerTransition) => void): void {
    const from = this.state;
    this.state = to;
    onTransition({ from, to, reason });
  }
}
