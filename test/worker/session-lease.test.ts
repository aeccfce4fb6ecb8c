/**
 * Leased admission of requests *within sessions* (the 2025 lane), proved with several isolates'
 * worth of clients against one tenant.
 *
 * Why independent `LeaseBudget`s against one real `TenantLimiter` in workerd, and not several
 * `wrangler dev`s: separate `wrangler dev` processes each run their own local Durable Object
 * storage, so they would each have their own limiter and prove nothing about sharing one. An
 * isolate's whole admission state is its `LeaseBudget` (leases, the sessions it has confirmed, the
 * sightings it has not reported) plus its `waitUntil`; giving each simulated isolate its own budget
 * and its own `waitUntil`, and driving them concurrently against the one limiter object over real
 * RPC, is exactly the situation of N isolates of one deployment, with the bounds checked on counts
 * rather than on timing.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { LeaseBudget, LIVE_MS, type LeaseSource } from '../../src/limits/lease-budget';
import { DEFAULT_TENANT_LIMITS, type TenantLimits } from '../../src/limits/tenant-limits';
import { LEASE_MAX_MS, leaseSize, type AdmitRequest, type AdmitResult } from '../../src/limits/tenant-limiter';

const IDLE_MS = 30 * 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start well inside a minute, so "at most N per minute" is not split by a window boundary. */
async function awayFromMinuteEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 20_000) await sleep(left + 200);
}

function limitsOf(patch: Partial<TenantLimits>) {
  const limits = { ...DEFAULT_TENANT_LIMITS, ...patch };
  return { limits, credential: { perMinute: limits.credentialPerMinute, perHour: limits.credentialPerHour, perDay: limits.credentialPerDay } };
}

/** The tenant's real limiter, with every call it receives counted. */
function countedLimiter(tenant: string) {
  const stub = env.TENANT_LIMITER.get(env.TENANT_LIMITER.idFromName(`tenant:${tenant}`));
  const calls = { admit: 0, lease: 0, giveBack: 0 };
  const source: LeaseSource = {
    admit: (req) => (calls.admit++, stub.admit(req)),
    lease: (req) => (calls.lease++, stub.lease(req)),
    giveBack: (...args) => (calls.giveBack++, stub.giveBack(...args)),
  };
  return { stub, source, calls, total: () => calls.admit + calls.lease + calls.giveBack };
}

/** One isolate's worth of clients: its own lease holder and its own `waitUntil`. */
function isolate() {
  const pending: Promise<unknown>[] = [];
  return { budget: new LeaseBudget(), ctx: { waitUntil: (p: Promise<unknown>) => void pending.push(p) }, settled: () => Promise.all(pending) };
}

type Limits = ReturnType<typeof limitsOf>;
const request = (user: string, l: Limits, session?: string, opening = false): AdmitRequest => ({
  user,
  limits: l.limits,
  credential: l.credential,
  session,
  opening,
  idleMs: IDLE_MS,
  server: 'notes',
  binding: 'NOTES_SERVER',
});

/** Open `n` sessions of `user` at the limiter (exact, as the gate does for initialize). */
async function openSessions(source: LeaseSource, stub: ReturnType<typeof countedLimiter>['stub'], user: string, l: Limits, n: number) {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const opened = await source.admit(request(user, l, undefined, true));
    if (!opened.ok || !opened.reservation) throw new Error(`open: ${JSON.stringify(opened)}`);
    const name = `streamable-http:${crypto.randomUUID()}`;
    await stub.register(opened.reservation, name);
    names.push(name);
  }
  return names;
}

const admitted = (rs: AdmitResult[]) => rs.filter((r) => r.ok).length;

describe('leased admission within sessions: several isolates against one tenant', () => {
  it('never admits more than the tenant limit per minute, wastes at most isolates × lease size, and the counts end exact', async () => {
    await awayFromMinuteEdge();
    const tenant = `slease-${crypto.randomUUID()}`;
    const rpm = 100;
    const isolates = 6;
    const l = limitsOf({ requestsPerMinute: rpm });
    const { stub, source } = countedLimiter(tenant);
    const sessions = await openSessions(source, stub, 'key:a', l, 4);
    const holders = Array.from({ length: isolates }, isolate);
    const results = await Promise.all(
      holders.flatMap((h, i) => Array.from({ length: 40 }, (_, c) => h.budget.admit(tenant, source, request('key:a', l, sessions[(i + c) % 4]), h.ctx))),
    );
    const served = admitted(results);
    // The 4 openings were counted too.
    expect(served + 4).toBeLessThanOrEqual(rpm);
    expect(served + 4).toBeGreaterThanOrEqual(rpm - isolates * leaseSize(rpm));
    for (const r of results.filter((x) => !x.ok)) {
      expect(r).toMatchObject({ ok: false, limit: 'tenant_rpm', message: `Rate limit exceeded: this tenant may make ${rpm} requests per minute` });
    }
    await Promise.all(holders.map((h) => h.settled()));
    expect(holders.every((h) => h.budget.held() === 0 && h.budget.unreported() === 0)).toBe(true);
    expect((await stub.credentialUsage(['key:a']))['key:a']!.minute).toBe(served + 4);
  });

  it("a key's own minute window holds across isolates within sessions (refused as that key)", async () => {
    await awayFromMinuteEdge();
    const tenant = `slease-${crypto.randomUUID()}`;
    const l = limitsOf({ requestsPerMinute: 10_000, credentialPerMinute: 30 });
    const { stub, source } = countedLimiter(tenant);
    const sessions = await openSessions(source, stub, 'key:hot', l, 2);
    const holders = Array.from({ length: 5 }, isolate);
    const results = await Promise.all(
      holders.flatMap((h) => Array.from({ length: 20 }, (_, c) => h.budget.admit(tenant, source, request('key:hot', l, sessions[c % 2]), h.ctx))),
    );
    const served = admitted(results) + 2;
    expect(served).toBeLessThanOrEqual(30);
    expect(served).toBeGreaterThanOrEqual(30 - 5 * leaseSize(30));
    for (const r of results.filter((x) => !x.ok))
      expect(r).toMatchObject({ limit: 'credential', message: 'Rate limit exceeded: this API key may make 30 requests per minute' });
  });

  it('most requests make no limiter call, and sessions served from leases are still touched for eviction and listing', async () => {
    await awayFromMinuteEdge();
    const tenant = `slease-${crypto.randomUUID()}`;
    const l = limitsOf({ requestsPerMinute: 100_000, credentialPerMinute: 10_000, credentialPerHour: 100_000, credentialPerDay: 1_000_000 });
    const counted = countedLimiter(tenant);
    const sessions = await openSessions(counted.source, counted.stub, 'key:a', l, 4);
    const before = counted.total();
    const holders = Array.from({ length: 3 }, isolate);
    const lastRequest = new Map<string, number>();
    let requests = 0;
    // Each isolate: one client loop per session, 30 requests paced 50 ms apart (so leases expire and renew).
    const results = await Promise.all(
      holders.flatMap((h) =>
        sessions.map(async (session) => {
          const out: AdmitResult[] = [];
          for (let i = 0; i < 30; i++) {
            lastRequest.set(session, Date.now());
            requests++;
            out.push(await h.budget.admit(tenant, counted.source, request('key:a', l, session), h.ctx));
            await sleep(50);
          }
          return out;
        }),
      ),
    );
    expect(results.flat().every((r) => r.ok)).toBe(true);
    await Promise.all(holders.map((h) => h.settled()));
    const calls = counted.total() - before;
    // First request of each session in each isolate is exact (12), then about one lease and one give-back per isolate and second.
    expect(calls).toBeLessThan(requests / 3);
    expect(counted.calls.admit).toBeLessThan(requests / 4);
    // Every request was counted exactly once.
    expect((await counted.stub.credentialUsage(['key:a']))['key:a']!.minute).toBe(requests + 4);
    // The limiter saw each session's last request (reported with the leases), so eviction picks the truly least recently used.
    const listed = await counted.stub.listSessions('key:a');
    expect(listed).toHaveLength(4);
    const lastOfAll = Math.min(...lastRequest.values()); // every session's last request came at or after this
    for (const s of listed) expect(s.lastSeen).toBeGreaterThanOrEqual(lastOfAll);
  });

  it('a session ended elsewhere is refused once its isolate has reported it, and after LIVE_MS at the latest', async () => {
    const tenant = `slease-${crypto.randomUUID()}`;
    const l = limitsOf({});
    const { stub, source } = countedLimiter(tenant);
    const [kept, ended] = await openSessions(source, stub, 'key:a', l, 2);
    const a = isolate();
    const b = isolate();
    // Both isolates confirm both sessions (first requests are exact), then serve them from leases.
    for (const h of [a, b])
      for (const s of [kept, ended, kept, ended]) expect((await h.budget.admit(tenant, source, request('key:a', l, s!), h.ctx)).ok).toBe(true);
    // Another isolate ends the session (an owner's DELETE releases the slot; an eviction or End takes it).
    await stub.release(ended!);
    // Isolate a reports what it served when its lease lapses: the limiter names the ended session, so a refuses it at once.
    await a.settled();
    expect(await a.budget.admit(tenant, source, request('key:a', l, ended!), a.ctx)).toEqual({ ok: false, limit: 'unknown_session' });
    expect((await a.budget.admit(tenant, source, request('key:a', l, kept!), a.ctx)).ok).toBe(true);
    // Isolate b, whatever it reported meanwhile, stops admitting it locally within LIVE_MS.
    await sleep(LIVE_MS + LEASE_MAX_MS);
    expect(await b.budget.admit(tenant, source, request('key:a', l, ended!), b.ctx)).toEqual({ ok: false, limit: 'unknown_session' });
    await Promise.all([a.settled(), b.settled()]);
  });

  it('leases follow demand: many light callers across isolates never use up a tenant budget they do not use', async () => {
    await awayFromMinuteEdge();
    const tenant = `slease-${crypto.randomUUID()}`;
    const l = limitsOf({ requestsPerMinute: 1000 }); // a lease may hold up to 60 (a tenth of the 600/min per key)
    const { stub, source } = countedLimiter(tenant);
    const users = Array.from({ length: 20 }, (_, i) => `key:light-${i}`);
    const sessions = new Map<string, string>();
    for (const u of users) sessions.set(u, (await openSessions(source, stub, u, l, 1))[0]!);
    const holders = Array.from({ length: 2 }, isolate);
    const results: AdmitResult[] = [];
    // 2 isolates × 20 keys × 3 rounds = 120 requests, an eighth of the budget. Were every (isolate, key)
    // lease sized to its limit (60), 40 of them would claim 2,400 > 1,000 and refuse the tenant.
    for (let round = 0; round < 3; round++) {
      results.push(...(await Promise.all(holders.flatMap((h) => users.map((u) => h.budget.admit(tenant, source, request(u, l, sessions.get(u)), h.ctx))))));
      await sleep(100);
    }
    expect(results.filter((r) => !r.ok)).toEqual([]);
    await Promise.all(holders.map((h) => h.settled()));
    const usage = await stub.credentialUsage(users);
    expect(Object.values(usage).reduce((n, u) => n + u.minute, 0)).toBe(120 + 20);
  });

  it('session quotas stay exact: concurrent openings from several isolates never exceed the tenant quota', async () => {
    const tenant = `slease-${crypto.randomUUID()}`;
    const l = limitsOf({ maxSessions: 5 });
    const { source, stub } = countedLimiter(tenant);
    const holders = Array.from({ length: 4 }, isolate);
    const results = await Promise.all(
      holders.flatMap((h, i) => Array.from({ length: 4 }, (_, c) => h.budget.admit(tenant, source, request(`key:u${i}-${c}`, l, undefined, true), h.ctx))),
    );
    expect(admitted(results)).toBe(5);
    for (const r of results.filter((x) => !x.ok)) expect(r).toMatchObject({ limit: 'tenant_sessions' });
    for (const r of results) if (r.ok && r.reservation) await stub.release(r.reservation);
  });
});
