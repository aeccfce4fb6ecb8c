import { env, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TENANT_CHECK_SPACING_MS } from '../../src/gateway/health-schedule';
import { MIN_HEALTH_INTERVAL_MS } from '../../src/gateway/upstream-model';
import { upstreamStub } from '../../src/gateway/upstream-state';
import { adminCall, seedTenant } from './platform-client';

/**
 * The health alarm with replicas: every replica is checked, a replica failing its checks is taken
 * out (admin view, `/health` counts), and the per-tenant spacing counts replica checks. Outbound
 * requests are answered by a fetch stub inside workerd (the state objects run in this isolate).
 */

const replicaUrls = (name: string, n: number) => Array.from({ length: n }, (_, i) => ({ url: `https://r${i}.mcp-replicas.com/${name}` }));

async function outbound<T>(run: () => Promise<T>): Promise<{ result: T; urls: string[] }> {
  const urls: string[] = [];
  const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL) => {
    urls.push(input instanceof Request ? input.url : String(input));
    return new Response('replica down (test stub)', { status: 503 });
  });
  try {
    return { result: await run(), urls };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('replica health checks (health alarm)', () => {
  it('checks every replica, takes failing ones out, shows them in the admin view and /health, and spaces checks per replica', async () => {
    const { id } = await seedTenant([]);
    const settings = { healthIntervalMs: MIN_HEALTH_INTERVAL_MS, failureThreshold: 1 };
    const created = await adminCall('POST', `/tenants/${id}/upstreams`, { name: 'pool', replicas: replicaUrls('pool', 10), balance: 'health', settings });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await adminCall('POST', `/tenants/${id}/upstreams`, { name: 'pool2', replicas: replicaUrls('pool2', 10), settings })).status).toBe(201);
    const healthBefore = (await (await SELF.fetch('https://smcp.test/health')).json()) as { gateway: { replicas: { total: number; down: number } } };

    const key = { tenant: id, name: 'pool' };
    const stub = upstreamStub(env, key);
    await stub.status(key); // first contact schedules the first check
    const before = Date.now();
    const { result: ran, urls } = await outbound(() => runDurableObjectAlarm(stub));
    expect(ran).toBe(true);
    const hosts = new Set(urls.map((u) => new URL(u).host));
    expect([...hosts].sort()).toEqual(
      replicaUrls('pool', 10)
        .map((r) => new URL(r.url).host)
        .sort(),
    );

    const view = (await adminCall('GET', `/tenants/${id}/upstreams/pool`)).body;
    expect(view.state.replicas).toHaveLength(10);
    for (const r of view.state.replicas) {
      expect(r.health).toMatchObject({ ok: false });
      expect(r.breaker.state).toBe('open');
    }
    const healthAfter = (await (await SELF.fetch('https://smcp.test/health')).json()) as { gateway: { replicas: { total: number; down: number } } };
    expect(healthAfter.gateway.replicas.down - healthBefore.gateway.replicas.down).toBe(10);
    expect(healthAfter.gateway.replicas.total - healthBefore.gateway.replicas.total).toBe(0);

    // 20 replica checks for this tenant × 3 s spacing = 60 s, more than the 30 s asked for.
    const due = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(due! - before).toBeGreaterThanOrEqual(20 * TENANT_CHECK_SPACING_MS - 1000);
  });
});
