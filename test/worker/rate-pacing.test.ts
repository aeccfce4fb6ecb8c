import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_LIMITS } from '../../src/limits/tenant-limits';
import { paceCap, PACE_STEP_MS, type TenantLimiter } from '../../src/limits/tenant-limiter';

/**
 * A tenant refused for its rate in one minute gets the next minute's budget in one-second steps,
 * so a tenant hammering past its limit cannot have its whole minute served in one burst (at the
 * cost of every other tenant's latency); a tenant that stayed within its limit still gets its
 * whole budget at once. Driven through the real TenantLimiter object; "a minute later" is made by
 * moving the object's window back a minute, as the clock would.
 */

const RPM = 60;
const limits = { ...DEFAULT_TENANT_LIMITS, requestsPerMinute: RPM };
const request = (user: string) => ({
  user,
  limits,
  opening: false,
  idleMs: 60_000,
  server: 'notes',
  binding: 'NOTES_SERVER',
  credential: { perMinute: 1_000_000, perHour: 10_000_000, perDay: 100_000_000 },
});

/** Well inside a minute, so a burst and the window it is counted in do not straddle a boundary. */
async function earlyInAMinute(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 40_000) await new Promise((r) => setTimeout(r, 60_000 - into + 200));
}

/** As if a minute passed: the object's current window (and its refusal, if any) become the previous one. */
async function aMinuteLater(stub: DurableObjectStub<TenantLimiter>): Promise<void> {
  await runInDurableObject(stub, (limiter) => {
    const state = limiter as unknown as { windowStart: number; refusedWindow: number };
    if (state.refusedWindow === state.windowStart) state.refusedWindow -= 60_000;
    state.windowStart -= 60_000;
  });
}

async function admitted(stub: DurableObjectStub<TenantLimiter>, n: number) {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => stub.admit(request(`key:${i % 3}`))));
  return { ok: results.filter((r) => r.ok).length, refusals: results.filter((r) => !r.ok) as { retryAfter: number; limit: string }[] };
}

describe('pacing a tenant that hammers past its rate', () => {
  it('unlocks the budget in one-second steps across the minute, never more than the limit', () => {
    expect(paceCap(60, 0)).toBe(1);
    expect(paceCap(60, PACE_STEP_MS - 1)).toBe(1);
    expect(paceCap(60, PACE_STEP_MS)).toBe(2);
    expect(paceCap(60, 59_999)).toBe(60);
    expect(paceCap(1000, 0)).toBe(17);
    expect(paceCap(1000, 30_000)).toBe(517);
    expect(paceCap(6, 0)).toBe(1);
    for (let t = 0; t < 60_000; t += 250) expect(paceCap(RPM, t)).toBeLessThanOrEqual(RPM);
  });

  it('gives a tenant refused last minute only what has unlocked, with Retry-After the next step; a tenant within its limit keeps its burst', async () => {
    await earlyInAMinute();
    const hammering = env.TENANT_LIMITER.get(env.TENANT_LIMITER.idFromName(`tenant:pace-${crypto.randomUUID()}`));
    const first = await admitted(hammering, RPM + 20);
    expect(first.ok).toBe(RPM);
    expect(first.refusals.every((r) => r.limit === 'tenant_rpm' && r.retryAfter > 1)).toBe(true);

    await aMinuteLater(hammering);
    const before = Date.now() % 60_000;
    const paced = await admitted(hammering, RPM);
    const after = Date.now() % 60_000;
    // Only the steps begun so far: far fewer than the limit this early in the minute.
    expect(paced.ok).toBeGreaterThanOrEqual(paceCap(RPM, before));
    expect(paced.ok).toBeLessThanOrEqual(paceCap(RPM, after));
    expect(paced.ok).toBeLessThan(RPM);
    expect(paced.refusals.every((r) => r.limit === 'tenant_rpm' && r.retryAfter === 1)).toBe(true);

    // Still hammering: the minute after stays paced; then a minute within the limit ends the pacing.
    await aMinuteLater(hammering);
    expect((await admitted(hammering, RPM)).ok).toBeLessThan(RPM);
    await aMinuteLater(hammering);
    await runInDurableObject(hammering, (limiter) => {
      (limiter as unknown as { refusedWindow: number }).refusedWindow = 0; // a minute without refusals
    });
    await aMinuteLater(hammering);
    expect((await admitted(hammering, RPM)).ok).toBe(RPM);

    // A tenant that used its whole budget without ever being refused gets the next minute's at once.
    const busy = env.TENANT_LIMITER.get(env.TENANT_LIMITER.idFromName(`tenant:pace-${crypto.randomUUID()}`));
    expect((await admitted(busy, RPM)).ok).toBe(RPM);
    await aMinuteLater(busy);
    expect((await admitted(busy, RPM)).ok).toBe(RPM);
  });

  it('leases of a paced tenant hold only what has unlocked', async () => {
    await earlyInAMinute();
    const stub = env.TENANT_LIMITER.get(env.TENANT_LIMITER.idFromName(`tenant:pace-${crypto.randomUUID()}`));
    await admitted(stub, RPM + 1);
    await aMinuteLater(stub);
    const before = Date.now() % 60_000;
    let granted = 0;
    for (;;) {
      const lease = await stub.lease({ ...request('key:0'), want: RPM });
      if (!lease.ok) {
        expect(lease).toMatchObject({ ok: false, limit: 'tenant_rpm', retryAfter: 1 });
        break;
      }
      granted += lease.granted;
    }
    expect(granted).toBeGreaterThanOrEqual(paceCap(RPM, before));
    expect(granted).toBeLessThanOrEqual(paceCap(RPM, Date.now() % 60_000));
    expect(granted).toBeLessThan(RPM);
  });
});
