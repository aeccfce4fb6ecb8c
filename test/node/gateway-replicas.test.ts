import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { adminCall, connectClient, startHarness, tenantWithKeys, text, type Harness } from '../support/gateway-harness.ts';
import { startUpstream, type UpstreamFixture } from '../support/upstream-fixture.ts';
import { connectV2 } from '../support/sdk-v2-connect.ts';

// End to end: an upstream with several replicas (real SDK servers on loopback started here) behind
// `wrangler dev`, called by the official SDK client with a tenant API key. Tolerances are stated
// per test; none is a timing assertion (the slow replica is 400 ms slower than the others, far
// above this machine's noise, and the test only counts which replica served each call).

let h: Harness;
let keys: Record<'admin' | 'member' | 'read-only', string>;
const fixtures: UpstreamFixture[] = [];
const upstream = async (init?: Parameters<typeof startUpstream>[0]) => {
  const f = await startUpstream(init);
  fixtures.push(f);
  return f;
};
const calls = (f: UpstreamFixture) => f.counts['tools/call'] ?? 0;
const settings = { retries: 2, retryBaseMs: 10, failureThreshold: 2, cooldownMs: 600_000, cacheTtlMs: 600_000 };

/** Which fixture served a call: the one whose tools/call count grew (calls are sequential). */
async function callAndLocate(client: Client, replicas: UpstreamFixture[], a: number): Promise<number> {
  const before = replicas.map(calls);
  const res = await client.callTool({ name: 'add', arguments: { a, b: 1 } });
  expect(res.isError ?? false).toBe(false);
  expect(text(res)).toBe(String(a + 1));
  return replicas.findIndex((f, i) => calls(f) > before[i]!);
}

beforeAll(async () => {
  h = await startHarness('replicas');
  keys = await tenantWithKeys(h.platform, 'fleet');
}, 180_000);

afterAll(async () => {
  for (const f of fixtures) await f.close().catch(() => undefined);
  await h?.stop();
});

describe('gateway replicas and load balancing', () => {
  it('refuses url and replicas together and checks every replica URL', async () => {
    const a = await upstream();
    const both = await adminCall(h.platform, 'POST', '/tenants/fleet/upstreams', { name: 'both', url: a.url, replicas: [{ url: a.url }] });
    expect(both.status).toBe(400);
    const bad = await adminCall(h.platform, 'POST', '/tenants/fleet/upstreams', { name: 'bad', replicas: [{ url: a.url }, { url: 'ftp://127.0.0.1/mcp' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('replicas[1].url');
  });

  it('round-robin: sessions spread over the replicas, each session stays on its replica, and a replica killed mid-run fails no idempotent call', async () => {
    const replicas = [await upstream(), await upstream(), await upstream()];
    const created = await adminCall(h.platform, 'POST', '/tenants/fleet/upstreams', {
      name: 'rr',
      replicas: replicas.map((f) => ({ url: f.url })),
      balance: 'round-robin',
      settings,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ balance: 'round-robin', url: replicas[0]!.url });

    // 6 sessions × 3 calls: every session's calls land on one replica; every replica serves sessions
    // (tolerance: round-robin over sessions, each replica gets 2 ± 1 of the 6 sessions).
    const sessionReplica: number[] = [];
    for (let s = 0; s < 6; s++) {
      const client = await connectClient(h.platform, 'rr', keys.member);
      const served = [await callAndLocate(client, replicas, s), await callAndLocate(client, replicas, s + 1), await callAndLocate(client, replicas, s + 2)];
      expect(new Set(served).size, `session ${s} moved between replicas: ${served}`).toBe(1);
      sessionReplica.push(served[0]!);
      await client.close();
    }
    for (let r = 0; r < 3; r++) expect(sessionReplica.filter((x) => x === r).length, JSON.stringify(sessionReplica)).toBeGreaterThanOrEqual(1);

    // Kill replica 1 mid-run: 4 sessions call `add` (idempotentHint) 10 times each; not one call fails.
    const clients = await Promise.all(Array.from({ length: 4 }, () => connectClient(h.platform, 'rr', keys.member)));
    let failed = 0;
    for (let i = 0; i < 10; i++) {
      if (i === 3) await replicas[1]!.close();
      for (const c of clients) {
        const res = await c.callTool({ name: 'add', arguments: { a: i, b: 1 } }).catch(() => null);
        if (!res || res.isError || text(res) !== String(i + 1)) failed += 1;
      }
    }
    expect(failed).toBe(0);
    await Promise.all(clients.map((c) => c.close()));

    // The killed replica is taken out (its breaker opened after failureThreshold faults): admin view and /health.
    const view = (await adminCall(h.platform, 'GET', '/tenants/fleet/upstreams/rr')).body;
    expect(view.state.replicas).toHaveLength(3);
    expect(view.state.replicas[1].breaker.state).toBe('open');
    expect(view.state.replicas[0]).toMatchObject({ url: replicas[0]!.url, breaker: { state: 'closed' } });
    expect(view.state.breaker.state).toBe('closed'); // the upstream as a whole stayed up
    const health = (await (await fetch(`${h.platform.url}/health`)).json()) as { gateway: { replicas: { down: number } } };
    expect(health.gateway.replicas.down).toBeGreaterThanOrEqual(1);
  });

  it('fastest: a slow replica gets no new session once it has been measured', async () => {
    const replicas = [await upstream(), await upstream(), await upstream({ delayMs: 400 })];
    const created = await adminCall(h.platform, 'POST', '/tenants/fleet/upstreams', {
      name: 'fast',
      replicas: replicas.map((f) => ({ url: f.url })),
      balance: 'fastest',
      settings,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const served: number[] = [];
    for (let s = 0; s < 10; s++) {
      const client = await connectClient(h.platform, 'fast', keys.member);
      served.push(await callAndLocate(client, replicas, s), await callAndLocate(client, replicas, s));
      await client.close();
    }
    // Tolerance: unmeasured replicas are tried first, so the slow one may serve the one session that
    // measured it (2 calls) and never another: at most 2 of the 20 calls.
    expect(served.filter((r) => r === 2).length, JSON.stringify(served)).toBeLessThanOrEqual(2);
    const view = (await adminCall(h.platform, 'GET', '/tenants/fleet/upstreams/fast')).body;
    expect(view.balance).toBe('fastest');
    expect(view.state.replicas.map((r: { latencyMs: number | null }) => r.latencyMs)).toHaveLength(3);
  });

  it('weighted: calls follow the weights across sessions', async () => {
    const replicas = [await upstream(), await upstream()];
    const created = await adminCall(h.platform, 'POST', '/tenants/fleet/upstreams', {
      name: 'wt',
      replicas: [
        { url: replicas[0]!.url, weight: 3 },
        { url: replicas[1]!.url, weight: 1 },
      ],
      balance: 'weighted',
      settings,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const served: number[] = [];
    for (let s = 0; s < 8; s++) {
      const client = await connectClient(h.platform, 'wt', keys.member);
      served.push(await callAndLocate(client, replicas, s));
      await client.close();
    }
    // Tolerance: smooth weighted round-robin is exact per cycle of 4 picks; the state object's own
    // tools/list fetch takes one pick, so replica 0 serves 5 or 6 of the 8 sessions (3:1 → 6).
    const heavy = served.filter((r) => r === 0).length;
    expect(heavy, JSON.stringify(served)).toBeGreaterThanOrEqual(5);
    expect(heavy).toBeLessThanOrEqual(7);
  });

  it('2026-07-28 clients reach a tenant upstream statelessly: tools/list and tools/call relayed, role policy applied, calls balanced per request', async () => {
    const replicas = [await upstream(), await upstream()];
    const created = await adminCall(h.platform, 'POST', '/tenants/fleet/upstreams', {
      name: 'modern-up',
      replicas: replicas.map((f) => ({ url: f.url })),
      settings,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const modern = await connectV2(`${h.platform.url}/servers/modern-up/mcp`, { pin: '2026-07-28' }, { apiKey: keys.member });
    const names = (await modern.listTools()).tools.map((t) => t.name).sort();
    expect(names).toEqual(['add', 'ask', 'big', 'echo', 'slow', 'write']);
    const before = replicas.map(calls);
    for (let i = 0; i < 6; i++) expect(text(await modern.callTool({ name: 'add', arguments: { a: i, b: 2 } }))).toBe(String(i + 2));
    // Tolerance: round-robin per request over 2 replicas, 6 calls: 3 each (at least 2 each stated).
    for (const [i, f] of replicas.entries()) expect(calls(f) - before[i]!).toBeGreaterThanOrEqual(2);
    await modern.close();

    // The same role policy as the 2025 lane: a read-only key may not call a tool without readOnlyHint.
    const readOnly = await connectV2(`${h.platform.url}/servers/modern-up/mcp`, { pin: '2026-07-28' }, { apiKey: keys['read-only'] });
    const refused = await readOnly.callTool({ name: 'add', arguments: { a: 1, b: 2 } }).then(
      (r) => r,
      (e: unknown) => e,
    );
    expect(JSON.stringify(refused, Object.getOwnPropertyNames(refused as object))).toMatch(/readOnlyHint|not allowed|role/i);
    expect(text(await readOnly.callTool({ name: 'echo', arguments: { text: 'hi' } }))).toBe('echo: hi');
    await readOnly.close();
  });
});
