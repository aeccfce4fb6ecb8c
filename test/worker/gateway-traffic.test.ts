import { env, runDurableObjectAlarm } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PAUSED_RECHECK_MS, TENANT_CHECK_SPACING_MS } from '../../src/gateway/health-schedule';
import { MIN_HEALTH_INTERVAL_MS } from '../../src/gateway/upstream-model';
import { upstreamStub } from '../../src/gateway/upstream-state';
import { adminCall, createKey, seedTenant } from './platform-client';

/**
 * Review finding 6: tenants could make the platform generate traffic (300 upstreams in 8 s, health
 * checks every second, checks while suspended). Upstreams per tenant are capped (20 by default, set
 * by the operator), health checks are at least 30 s apart and spaced per tenant, and none run for
 * a suspended or deleted tenant or a disabled upstream. Outbound requests are observed with a fetch
 * stub inside workerd (the state objects run in this isolate), so no test reaches a network.
 */

const URL_OF = (n: string) => `https://mcp.example.com/${n}`;
const register = (tenant: string, name: string, extra: Record<string, unknown> = {}, bearer?: string) =>
  adminCall('POST', `/tenants/${tenant}/upstreams`, { name, url: URL_OF(name), ...extra }, bearer);

/** Count (and refuse) every outbound fetch made while `run` executes. */
async function outbound<T>(run: () => Promise<T>): Promise<{ result: T; urls: string[] }> {
  const urls: string[] = [];
  const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL) => {
    urls.push(input instanceof Request ? input.url : String(input));
    return new Response('upstream down (test stub)', { status: 503 });
  });
  try {
    return { result: await run(), urls };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('upstreams per tenant are capped (review finding 6)', () => {
  it('refuses the 21st upstream with 409 upstream_limit, and the operator can raise or restore the cap', async () => {
    const { id } = await seedTenant([]);
    for (let i = 0; i < 20; i++) expect((await register(id, `up-${i}`)).status, `up-${i}`).toBe(201);
    const refused = await register(id, 'up-20');
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'upstream_limit' });
    expect(refused.body.error.message).toContain('20 upstreams');
    expect((await adminCall('GET', `/tenants/${id}/upstreams`)).body.upstreams).toHaveLength(20);

    // A tenant admin cannot raise its own cap; the operator can, and null restores the default.
    const tenantAdmin = (await createKey(id, 'admin')).key;
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { maxUpstreams: 100 } }, tenantAdmin)).status).toBe(403);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { maxUpstreams: 0 } })).status).toBe(400);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { maxUpstreams: 21 } })).body.limits.maxUpstreams).toBe(21);
    expect((await register(id, 'up-20')).status).toBe(201);
    expect((await register(id, 'up-21')).status).toBe(409);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { maxUpstreams: null } })).body.limits.maxUpstreams).toBe(20);
    // Deleting one makes room only below the cap again (21 registered, cap 20: still full after one delete).
    expect((await adminCall('DELETE', `/tenants/${id}/upstreams/up-0`)).status).toBe(204);
    expect((await register(id, 'up-0')).status).toBe(409);
  });

  it('holds under concurrent registrations: exactly the cap succeeds', async () => {
    const { id } = await seedTenant([]);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { maxUpstreams: 5 } })).status).toBe(200);
    const results = await Promise.all(Array.from({ length: 15 }, (_, i) => register(id, `burst-${i}`)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(5);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.error.code === 'upstream_limit')).toBe(true);
  });

  it('a tenant admin key hits the same cap', async () => {
    const { id } = await seedTenant([]);
    await adminCall('PATCH', `/tenants/${id}`, { limits: { maxUpstreams: 2 } });
    const admin = (await createKey(id, 'admin')).key;
    expect((await register(id, 'a', {}, admin)).status).toBe(201);
    expect((await register(id, 'b', {}, admin)).status).toBe(201);
    expect((await register(id, 'c', {}, admin)).status).toBe(409);
  });
});

describe('health checks are bounded (review finding 6)', () => {
  it('refuses a health interval under 30 s at registration and on PATCH', async () => {
    const { id } = await seedTenant([]);
    for (const healthIntervalMs of [1000, 29_999, 0, -1]) {
      const res = await register(id, `h-${Math.abs(healthIntervalMs)}`, { settings: { healthIntervalMs } });
      expect(res.status, String(healthIntervalMs)).toBe(400);
    }
    expect((await register(id, 'ok', { settings: { healthIntervalMs: MIN_HEALTH_INTERVAL_MS } })).status).toBe(201);
    expect((await adminCall('PATCH', `/tenants/${id}/upstreams/ok`, { settings: { healthIntervalMs: 1000 } })).status).toBe(400);
  });

  it('checks an active upstream, then waits at least 30 s and longer the more upstreams the tenant has', async () => {
    const { id } = await seedTenant([]);
    for (let i = 0; i < 20; i++) expect((await register(id, `s-${i}`, { settings: { healthIntervalMs: MIN_HEALTH_INTERVAL_MS } })).status).toBe(201);
    const key = { tenant: id, name: 's-0' };
    const stub = upstreamStub(env, key);
    await stub.status(key); // first contact schedules the first check
    const before = Date.now();
    const { result: ran, urls } = await outbound(() => runDurableObjectAlarm(stub));
    expect(ran).toBe(true);
    expect(urls.length).toBeGreaterThan(0);
    expect(urls.every((u) => u.startsWith(URL_OF('s-0')))).toBe(true);
    expect(((await stub.status(key)) as { health: unknown }).health).toMatchObject({ ok: false });
    const due = await runInState(stub);
    // 20 upstreams × 3 s spacing = 60 s, more than the 30 s asked for.
    expect(due! - before).toBeGreaterThanOrEqual(20 * TENANT_CHECK_SPACING_MS - 1000);
  });

  it('makes no request for a suspended tenant or a disabled upstream, and resumes after', async () => {
    const { id } = await seedTenant([]);
    expect((await register(id, 'paused')).status).toBe(201);
    const key = { tenant: id, name: 'paused' };
    const stub = upstreamStub(env, key);
    await stub.status(key);

    expect((await adminCall('PATCH', `/tenants/${id}`, { status: 'suspended' })).status).toBe(200);
    const before = Date.now();
    const suspended = await outbound(() => runDurableObjectAlarm(stub));
    expect(suspended.result).toBe(true);
    expect(suspended.urls).toEqual([]);
    expect((await runInState(stub))! - before).toBeGreaterThanOrEqual(PAUSED_RECHECK_MS - 1000);

    expect((await adminCall('PATCH', `/tenants/${id}`, { status: 'active' })).status).toBe(200);
    expect((await adminCall('PATCH', `/tenants/${id}/upstreams/paused`, { enabled: false })).status).toBe(200);
    const disabled = await outbound(() => runDurableObjectAlarm(stub));
    expect(disabled.urls).toEqual([]);

    // Re-enabling schedules a check at the upstream's own interval (60 s by default, not the 15 min
    // pause), and that check does reach the upstream.
    const reenable = Date.now();
    expect((await adminCall('PATCH', `/tenants/${id}/upstreams/paused`, { enabled: true })).status).toBe(200);
    expect((await runInState(stub))! - reenable).toBeLessThanOrEqual(60_000 + 5000);
    const resumed = await outbound(() => runDurableObjectAlarm(stub));
    expect(resumed.urls.length).toBeGreaterThan(0);
  });

  it('stops for good when the upstream or the tenant is deleted', async () => {
    for (const what of ['upstream', 'tenant'] as const) {
      const { id } = await seedTenant([]);
      expect((await register(id, 'gone')).status).toBe(201);
      const key = { tenant: id, name: 'gone' };
      const stub = upstreamStub(env, key);
      await stub.status(key);
      const path = what === 'upstream' ? `/tenants/${id}/upstreams/gone` : `/tenants/${id}`;
      expect((await adminCall('DELETE', path)).status, what).toBe(204);
      const after = await outbound(() => runDurableObjectAlarm(stub));
      expect(after.urls, what).toEqual([]);
      expect(await runInState(stub), what).toBeNull();
    }
  });
});

/** The state object's next alarm (ms since epoch), or null. */
async function runInState(stub: DurableObjectStub): Promise<number | null> {
  const { runInDurableObject } = await import('cloudflare:test');
  return runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
}
