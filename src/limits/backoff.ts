/**
 * Exponential sign-in back-off: the first `freeAttempts` failures cost nothing, then each further
 * failure locks the key (an account or an IP) for twice as long as the one before, from one
 * second up to `MAX_LOCK_MS`. A success resets the account; failures are forgotten after an hour
 * without one. Pure functions over a small record, so the Durable Object that stores the record
 * stays trivial and the policy is unit-testable.
 */

export interface BackoffState {
  failures: number;
  lastFailureAt: number;
  lockedUntil: number;
}

export const MAX_LOCK_MS = 15 * 60_000;
export const FORGET_AFTER_MS = 60 * 60_000;

/** Failures allowed before back-off starts: per account, and per client IP (shared by many users behind NAT). */
export const FREE_ATTEMPTS = { account: 5, ip: 20 } as const;

export const EMPTY_BACKOFF: BackoffState = { failures: 0, lastFailureAt: 0, lockedUntil: 0 };

/** Milliseconds until another attempt is allowed (0 = now). */
export function waitMs(state: BackoffState, now: number): number {
  return Math.max(0, state.lockedUntil - now);
}

/** The state after one more failure at `now`. */
export function afterFailure(state: BackoffState, now: number, freeAttempts: number): BackoffState {
  const failures = now - state.lastFailureAt > FORGET_AFTER_MS ? 1 : state.failures + 1;
  const over = failures - freeAttempts;
  const lock = over > 0 ? Math.min(MAX_LOCK_MS, 1000 * 2 ** Math.min(over - 1, 20)) : 0;
  return { failures, lastFailureAt: now, lockedUntil: lock > 0 ? now + lock : 0 };
}
