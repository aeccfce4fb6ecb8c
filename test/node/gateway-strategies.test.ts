import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client as V2Client } from '@modelcontextprotocol/client';
import { adminCall, connectClient, startHarness, tenantWithKeys, text, type Harness } from '../support/gateway-harness.ts';
import { startModernUpstream, type ModernFixture } from '../support/modern-upstream-fixture.ts';
import { startUpstream } from '../support/upstream-fixture.ts';
import { connectV2 } from '../support/sdk-v2-connect.ts';
import { eventually } from '../support/eventually';

// Balancing strategies end to end with real SDK replicas started here (SDK v2 servers speaking
// 2026-07-28, and SDK v1 servers for the health test), called statelessly by the SDK v2 client
// pinned to 2026-07-28, so every call is balanced on its own. Each test states its tolerance; none
// is a timing assertion (the slow replica is 1.5 s slower than the others, far above this
// machine's noise, and the tests count which replica served each call). This file has its own
// platform, so the `/health` replica counts are exact.

let h: Harness;
let keys: Record<'admin' | 'member' | 'read-only', string>;
const closers: Array<() => Promise<void>> = [];
const calls = (f: { counts: Record<string, number> }) => f.counts['tools/call'] ?? 0;

async function modernReplicas(delays: number[]): Promise<ModernFixture[]> {
  const out: ModernFixture[] = [];
  for (const delayMs of delays) {
    const f = await startModernUpstream({ delayMs });
    closers.push(() => f.close().catch(() => undefined));
    out.push(f);
  }
  return out;
}

async function register(name: string, urls: string[], balance: string, settings: Record<string, number>): Promise<void> {
  const created = await adminCall(h.platform, 'POST', '/tenants/strat/upstreams', { name, replicas: urls.map((url) => ({ url })), balance, settings });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
}

const client = (name: string): Promise<V2Client> => connectV2(`${h.platform.url}/servers/${name}/mcp`, { pin: '2026-07-28' }, { apiKey: keys.member });

async function gatewayHealth(): Promise<{ upstreams: number; replicas: { total: number; up: number; down: number } }> {
  return ((await (await fetch(`${h.platform.url}/health`)).json()) as { gateway: { upstreams: number; replicas: { total: number; up: number; down: number } } })
    .gateway;
}

beforeAll(async () => {
  h = await startHarness('strategies');
  keys = await tenantWithKeys(h.platform, 'strat');
}, 180_000);

afterAll(async () => {
  for (const close of closers) await close();
  await h?.stop();
});

describe('gateway balancing strategies, end to end', () => {
  it('least-connections: a slow replica gets fewer calls than round-robin would give it, and fewer than each fast replica', async () => {
    const replicas = await modernReplicas([0, 0, 1500]);
    await register(
      'lc',
      replicas.map((f) => f.url),
      'least-connections',
      { retries: 0 },
    );
    const clients = await Promise.all([client('lc'), client('lc'), client('lc')]);
    // Three callers, 8 calls each, concurrently: 24 calls.
    await Promise.all(
      clients.map(async (c, n) => {
        for (let i = 0; i < 8; i++) expect(text(await c.callTool({ name: 'add', arguments: { a: n, b: i } }))).toBe(String(n + i));
      }),
    );
    await Promise.all(clients.map((c) => c.close()));
    const served = replicas.map(calls);
    expect(served.reduce((a, b) => a + b, 0)).toBe(24);
    // Tolerance: round-robin would give the slow replica exactly 8 of 24. Under least-connections it is
    // picked only when it has no more open calls than the fast ones, so while its 1.5 s call runs the
    // other callers go to the fast replicas: at most 5 of 24, and fewer than either fast replica.
    expect(served[2], JSON.stringify(served)).toBeLessThanOrEqual(5);
    expect(served[2]!, JSON.stringify(served)).toBeLessThan(Math.min(served[0]!, served[1]!));
  });

  it('a replica killed mid-run: no idempotent stateless call fails, the replica is taken out, and /health counts it exactly', async () => {
    const replicas = await modernReplicas([0, 0, 0]);
    const healthBefore = await gatewayHealth();
    await register(
      'kill',
      replicas.map((f) => f.url),
      'round-robin',
      { retries: 2, retryBaseMs: 10, failureThreshold: 2, cooldownMs: 600_000 },
    );
    const c = await client('kill');
    let failed = 0;
    let atKill: number[] = [];
    for (let i = 0; i < 30; i++) {
      if (i === 12) {
        atKill = replicas.map(calls);
        await replicas[1]!.close();
      }
      const res = await c.callTool({ name: 'add', arguments: { a: i, b: 1 } }).catch(() => null);
      if (!res || res.isError || text(res) !== String(i + 1)) failed += 1;
    }
    await c.close();
    expect(failed).toBe(0);
    // Tolerance: round-robin per request over 3 replicas before the kill: 12 calls, 4 ± 1 each.
    for (const n of atKill) expect(n, JSON.stringify(atKill)).toBeGreaterThanOrEqual(3);
    // After the kill every call landed on the two live replicas (the dead one answered none).
    const after = replicas.map((f, i) => calls(f) - atKill[i]!);
    expect(after[1]).toBe(0);
    expect(after[0]! + after[2]!).toBe(18);
    const view = (await adminCall(h.platform, 'GET', '/tenants/strat/upstreams/kill')).body;
    expect(view.state.replicas[1].breaker.state).toBe('open');
    expect(view.state.replicas.map((r: { era: string | null }) => r.era)).toEqual(['2026-07-28', null, '2026-07-28']);
    expect(view.state.breaker.state).toBe('closed');
    // /health (this file's own platform): exactly one more upstream, 3 more replicas, one of them taken out.
    const health = await gatewayHealth();
    expect(health.upstreams - healthBefore.upstreams).toBe(1);
    expect(health.replicas.total - healthBefore.replicas.total).toBe(3);
    expect(health.replicas.down - healthBefore.replicas.down).toBe(1);
    expect(health.replicas.up - healthBefore.replicas.up).toBe(2);
  });

  it('a 2025 client session on 2026-07-28 replicas is balanced per request (there is no upstream session to stick to)', async () => {
    const replicas = await modernReplicas([0, 0]);
    await register(
      'perreq',
      replicas.map((f) => f.url),
      'round-robin',
      { retries: 0 },
    );
    const legacy = await connectClient(h.platform, 'perreq', keys.member);
    for (let i = 0; i < 6; i++) expect(text(await legacy.callTool({ name: 'add', arguments: { a: i, b: 5 } }))).toBe(String(i + 5));
    await legacy.close();
    // Tolerance: round-robin per request over 2 replicas, 6 calls of one session: 3 each (at least 2 each stated).
    for (const f of replicas) expect(calls(f), JSON.stringify(replicas.map(calls))).toBeGreaterThanOrEqual(2);
  });

  it('health: a replica failing its health check gets no call, and gets its share again after it recovers', async () => {
    const good = await startUpstream();
    const sick = await startUpstream({ failNext: [{ method: 'ping', times: 1_000_000, kind: '503' }] }); // calls work, health checks fail
    closers.push(
      () => good.close(),
      () => sick.close(),
    );
    await register('hc', [good.url, sick.url], 'health', { healthIntervalMs: 30_000, failureThreshold: 5, retries: 0 });
    const view = async () =>
      (await adminCall(h.platform, 'GET', '/tenants/strat/upstreams/hc')).body.state.replicas as Array<{ health: { ok: boolean } | null }>;
    const spread = async (n: number) => {
      const before = [calls(good), calls(sick)];
      const c = await client('hc');
      for (let i = 0; i < n; i++) expect(text(await c.callTool({ name: 'add', arguments: { a: i, b: 2 } }))).toBe(String(i + 2));
      await c.close();
      return [calls(good) - before[0]!, calls(sick) - before[1]!];
    };
    // The first health check runs about 30 s after registration (the alarm; never more often).
    await eventually(
      async () => {
        const r = await view();
        return r[0]?.health?.ok === true && r[1]?.health?.ok === false;
      },
      'the first health check: replica 0 passes, replica 1 fails',
      320,
    );
    // Tolerance: exact. Only replica 0 passed its last check, so every call goes there.
    expect(await spread(6)).toEqual([6, 0]);
    sick.behaviour.failNext = [];
    await eventually(async () => (await view())[1]?.health?.ok === true, 'the next health check passes on the recovered replica', 320);
    // Tolerance: both passed recently, so calls go in turn: 3 and 3 of 6 (at least 2 each stated).
    const after = await spread(6);
    expect(after[0], JSON.stringify(after)).toBeGreaterThanOrEqual(2);
    expect(after[1], JSON.stringify(after)).toBeGreaterThanOrEqual(2);
  }, 150_000);
});
