import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { LeaseBudget, type LeaseSource } from '../../src/limits/lease-budget';
import { DEFAULT_TENANT_LIMITS, type TenantLimits } from '../../src/limits/tenant-limits';
import { LEASE_MAX_MS, leaseSize, type RateRefusal } from '../../src/limits/tenant-limiter';
import { waitForEvents } from './audit-support';
import { modernCall } from './modern-client';
import { adminCall, createKey, seedTenant } from './platform-client';

/** Start a burst well inside a minute, so "at most N per minute" is not split by a window boundary. */
async function awayFromMinuteEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 15_000) await new Promise((r) => setTimeout(r, left + 200));
}

const limiterOf = (name: string) => env.TENANT_LIMITER.get(env.TENANT_LIMITER.idFromName(name));

/** One isolate's worth of clients: its own lease holder and its own `waitUntil`. */
function isolate() {
  const pending: Promise<unknown>[] = [];
  return { budget: new LeaseBudget(), ctx: { waitUntil: (p: Promise<unknown>) => void pending.push(p) }, settled: () => Promise.all(pending) };
}

function limitsOf(patch: Partial<TenantLimits>) {
  const limits = { ...DEFAULT_TENANT_LIMITS, ...patch };
  return { limits, credential: { perMinute: limits.credentialPerMinute, perHour: limits.credentialPerHour, perDay: limits.credentialPerDay } };
}

/** `clients` concurrent requests through each of `isolates` lease holders against one tenant's limiter. */
async function burst(tenant: string, users: string[], isolates: number, clients: number, patch: Partial<TenantLimits>) {
  const stub = limiterOf(`tenant:${tenant}`);
  const { limits, credential } = limitsOf(patch);
  const holders = Array.from({ length: isolates }, isolate);
  const results = await Promise.all(
    holders.flatMap((h, i) =>
      Array.from({ length: clients }, (_, c) =>
        h.budget.admit(
          tenant,
          stub,
          { user: users[(i + c) % users.length]!, limits, credential, opening: false, idleMs: 60_000, server: 'notes', binding: 'NOTES_SERVER' },
          h.ctx,
        ),
      ),
    ),
  );
  return { stub, holders, admitted: results.filter((r) => r.ok).length, refusals: results.filter((r) => !r.ok) as RateRefusal[] };
}

describe('leased admission (session-less requests): several isolates against one tenant', () => {
  it('never admits more than the tenant limit per minute, wastes at most isolates × lease size, and returns what it did not use', async () => {
    await awayFromMinuteEdge();
    const tenant = `lease-${crypto.randomUUID()}`;
    const rpm = 100;
    const isolates = 6;
    const { stub, holders, admitted, refusals } = await burst(tenant, ['key:a', 'key:b', 'user:c'], isolates, 40, { requestsPerMinute: rpm });
    expect(admitted).toBeLessThanOrEqual(rpm);
    expect(admitted).toBeGreaterThanOrEqual(rpm - isolates * leaseSize(rpm));
    expect(refusals.length).toBe(isolates * 40 - admitted);
    for (const r of refusals) {
      expect(r).toMatchObject({ ok: false, limit: 'tenant_rpm', message: `Rate limit exceeded: this tenant may make ${rpm} requests per minute` });
      expect(r.retryAfter).toBeGreaterThanOrEqual(1);
      expect(r.retryAfter).toBeLessThanOrEqual(60);
    }
    // Every lease lapses within LEASE_MAX_MS and gives back what it held: the counts are then the requests served.
    await Promise.all(holders.map((h) => h.settled()));
    expect(holders.every((h) => h.budget.held() === 0)).toBe(true);
    const usage = await stub.credentialUsage(['key:a', 'key:b', 'user:c']);
    expect(Object.values(usage).reduce((n, u) => n + u.minute, 0)).toBe(admitted);
  });

  it('with demand under the limit, every request is served and the counts match exactly once the leases lapse', async () => {
    await awayFromMinuteEdge();
    const tenant = `lease-${crypto.randomUUID()}`;
    const { stub, holders, admitted } = await burst(tenant, ['key:a'], 4, 7, { requestsPerMinute: 1000 });
    expect(admitted).toBe(28);
    await Promise.all(holders.map((h) => h.settled()));
    expect((await stub.credentialUsage(['key:a']))['key:a']).toMatchObject({ minute: 28, hour: 28, day: 28, total: 28 });
  });

  it("a credential's own minute window holds across isolates (refused as that credential, not the tenant)", async () => {
    await awayFromMinuteEdge();
    const tenant = `lease-${crypto.randomUUID()}`;
    const { admitted, refusals } = await burst(tenant, ['key:hot'], 5, 20, { requestsPerMinute: 10_000, credentialPerMinute: 25 });
    expect(admitted).toBeLessThanOrEqual(25);
    expect(admitted).toBeGreaterThanOrEqual(25 - 5 * leaseSize(25));
    expect(refusals.every((r) => r.limit === 'credential' && r.message === 'Rate limit exceeded: this API key may make 25 requests per minute')).toBe(true);
  });

  it('a lease is never usable past the end of its minute window', async () => {
    const tenant = `lease-${crypto.randomUUID()}`;
    const { limits, credential } = limitsOf({});
    const granted = await limiterOf(`tenant:${tenant}`).lease({ user: 'key:a', limits, credential });
    expect(granted.ok).toBe(true);
    if (!granted.ok) return;
    expect(granted.validMs).toBeLessThanOrEqual(Math.min(LEASE_MAX_MS, 60_000 - (granted.grantedAt % 60_000)));
    expect(granted.granted).toBe(Math.min(leaseSize(limits.requestsPerMinute), leaseSize(credential.perMinute)));
  });
});

describe('leased admission through the stateless (2026-07-28) lane', () => {
  it('a tenant limited to N a minute gets exactly N calls, then 429 with Retry-After, each refusal counted in the audit', async () => {
    const { id } = await seedTenant(['notes']);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { requestsPerMinute: 4 } })).status).toBe(200);
    const key = (await createKey(id, 'member')).key;
    await awayFromMinuteEdge();
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 7; i++) {
      const { status, response } = await modernCall('notes', key, 'tools/list');
      statuses.push(status);
      if (status === 429) refused ??= response;
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 429]);
    const retryAfter = Number(refused!.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const events = await waitForEvents(id, 'action=limit.tenant_rpm', (e) => e.reduce((n, x) => n + x.details.count, 0) >= 3);
    expect(events.reduce((n, e) => n + e.details.count, 0)).toBe(3);
  });
});

describe('leased admission under concurrency through the lane', () => {
  it('a concurrent burst over the limit is served at most N, every other answer a 429 (no 5xx, none left waiting)', async () => {
    const { id } = await seedTenant(['notes']);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { requestsPerMinute: 12 } })).status).toBe(200);
    const key = (await createKey(id, 'member')).key;
    await awayFromMinuteEdge();
    const statuses = (await Promise.all(Array.from({ length: 30 }, () => modernCall('notes', key, 'tools/list')))).map((r) => r.status);
    const served = statuses.filter((s) => s === 200).length;
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(served).toBeLessThanOrEqual(12);
    expect(served).toBeGreaterThanOrEqual(12 - leaseSize(12));
  });

  it('a burst in one isolate waits for the lease being asked for: one limiter call per lease, not one per request', async () => {
    await awayFromMinuteEdge();
    const stub = limiterOf(`tenant:coalesce-${crypto.randomUUID()}`);
    const calls = { admit: 0, lease: 0 };
    const source = {
      admit: (req: Parameters<typeof stub.admit>[0]) => (calls.admit++, stub.admit(req)),
      lease: (req: Parameters<typeof stub.lease>[0]) => (calls.lease++, stub.lease(req)),
      giveBack: (...args: Parameters<typeof stub.giveBack>) => stub.giveBack(...args),
    };
    const one = isolate();
    const ask = (l: ReturnType<typeof limitsOf>) =>
      one.budget.admit('coalesce', source, { user: 'key:a', ...l, opening: false, idleMs: 60_000, server: 'notes', binding: 'NOTES_SERVER' }, one.ctx);

    const roomy = limitsOf({ requestsPerMinute: 10_000, credentialPerMinute: 10_000 });
    const served = await Promise.all(Array.from({ length: 100 }, () => ask(roomy)));
    expect(served.every((r) => r.ok)).toBe(true);
    // Before: one lease call, and an exact call for each of the 99 requests that came while it was asked for.
    expect(calls.admit).toBe(0);
    // Leases grow fourfold while spent early (10, 40, 160): three calls serve 100 requests.
    expect(calls.lease).toBeLessThanOrEqual(4);
    await one.settled();

    // Over the limit: the waiting requests share the limiter's refusal instead of each asking again.
    const key = 'key:b';
    const tight = limitsOf({ requestsPerMinute: 10_000, credentialPerMinute: 5 });
    calls.lease = 0;
    const results = await Promise.all(
      Array.from({ length: 60 }, () =>
        one.budget.admit('coalesce', source, { user: key, ...tight, opening: false, idleMs: 60_000, server: 'notes', binding: 'NOTES_SERVER' }, one.ctx),
      ),
    );
    const refused = results.filter((r) => !r.ok) as RateRefusal[];
    expect(results.length - refused.length).toBeLessThanOrEqual(5);
    expect(refused.length).toBeGreaterThanOrEqual(55);
    for (const r of refused) expect(r).toMatchObject({ ok: false, limit: 'credential' });
    expect(calls.admit).toBe(0);
    expect(calls.lease).toBeLessThanOrEqual(3);
    await one.settled();
    expect((await stub.credentialUsage([key]))[key]!.minute).toBe(results.length - refused.length);
  });

  it('a lease call that never answers (its request cancelled) holds up the others for at most LEASE_MAX_MS, once', async () => {
    const calls = { admit: 0, lease: 0 };
    const source: LeaseSource = {
      // The first lease call never settles, as when the request making it is cancelled mid-call.
      lease: async () => (++calls.lease === 1 ? new Promise<never>(() => undefined) : { ok: true, granted: 10, grantedAt: Date.now(), validMs: 1000 }),
      admit: async () => (calls.admit++, { ok: true }),
      giveBack: async () => undefined,
    };
    const one = isolate();
    const l = limitsOf({});
    const admit = () =>
      one.budget.admit('hung', source, { user: 'key:a', ...l, opening: false, idleMs: 60_000, server: 'notes', binding: 'NOTES_SERVER' }, one.ctx);
    void admit(); // asks, and hangs
    const started = Date.now();
    // Waits for the hung ask until it is given up, then asks for a lease itself.
    expect(await admit()).toEqual({ ok: true });
    expect(calls).toEqual({ admit: 0, lease: 2 });
    // Tolerance: it waited for the hung ask (about LEASE_MAX_MS) before giving up on it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(LEASE_MAX_MS - 50);
    // The hung ask is never waited on again: the next requests take from the new lease.
    for (let i = 0; i < 5; i++) expect(await admit()).toEqual({ ok: true });
    expect(calls).toEqual({ admit: 0, lease: 2 });
    await one.settled();
  });
});
