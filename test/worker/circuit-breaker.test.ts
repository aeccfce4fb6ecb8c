import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type BreakerTransition } from '../../src/gateway/circuit-breaker';
import { backoffDelay } from '../../src/gateway/retry';

describe('circuit breaker state machine', () => {
  it('opens after the threshold, fails fast during the cooldown, allows one half-open trial, and closes or re-opens on its outcome', () => {
    const seen: string[] = [];
    const on = (t: BreakerTransition) => seen.push(`${t.from}->${t.to}`);
    const b = new CircuitBreaker(3, 1000);
    b.record(false, 0, 'x', on);
    b.record(true, 1, '', on); // a success resets the count
    for (let i = 0; i < 3; i++) b.record(false, 10, 'x', on);
    expect(b.state).toBe('open');
    expect(b.admit(500, on)).toEqual({ allowed: false, retryAt: 1010 });
    expect(b.admit(1010, on)).toEqual({ allowed: true, trial: true });
    expect(b.admit(1011, on).allowed).toBe(false); // one trial at a time
    b.record(false, 1020, 'still down', on);
    expect(b.state).toBe('open');
    expect(b.admit(2020, on)).toEqual({ allowed: true, trial: true });
    b.record(true, 2030, '', on);
    expect(b.state).toBe('closed');
    expect(seen).toEqual(['closed->open', 'open->half-open', 'half-open->open', 'open->half-open', 'half-open->closed']);
  });

  it('backs off exponentially with full jitter, capped', () => {
    expect(backoffDelay(1, 100, () => 0.999)).toBe(99);
    expect(backoffDelay(3, 100, () => 0.999)).toBe(399);
    expect(backoffDelay(3, 100, () => 0)).toBe(0);
    expect(backoffDelay(20, 100, () => 0.999)).toBe(4995);
  });
});
