import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { FormBrowser, formAction, inputValue } from '../support/browser-forms';
import { authorizationRequest } from '../support/oauth-flow';
import { waitForEvents } from './audit-support';
import { adminCall, createKey, mcpPost, openSession, ORIGIN, PASSWORD, registerClient, rpcMessages, seedTenant } from './platform-client';

const INIT = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'limits-test', version: '1' } },
};
const list = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/list', params: {} });

/** A random documentation-range IP, so per-IP buckets never collide across tests. */
const someIp = () => `198.51.100.${Math.floor(Math.random() * 250) + 1}`;

async function expectTooMany(res: Response, shape: 'rpc' | 'rest', maxRetryAfter = 60) {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxRetryAfter);
  const body = (await res.json()) as any;
  if (shape === 'rpc') {
    expect(body.jsonrpc).toBe('2.0');
    expect(body.error.code).toBeTypeOf('number');
    expect(body.error.message).toMatch(/limit|quota/i);
  } else {
    expect(body.error.code).toBe('rate_limited');
  }
}

describe('per-tenant request rate (exact, TenantLimiter)', () => {
  it('answers a burst over the limit with 429 + Retry-After while a second tenant in the same burst is unaffected', async () => {
    const noisy = await seedTenant(['notes']);
    const quiet = await seedTenant(['notes']);
    const patched = await adminCall('PATCH', `/tenants/${noisy.id}`, { limits: { requestsPerMinute: 10 } });
    expect(patched.status).toBe(200);
    expect(patched.body.limits).toMatchObject({ requestsPerMinute: 10, maxSessions: 100, maxSessionsPerUser: 20 });
    const noisyKey = (await createKey(noisy.id, 'member')).key;
    const quietKey = (await createKey(quiet.id, 'member')).key;
    const noisySession = await openSession('notes', noisyKey);
    const quietSession = await openSession('notes', quietKey);

    const burst = 40;
    const [noisyRes, quietRes] = await Promise.all([
      Promise.all(Array.from({ length: burst }, (_, i) => mcpPost('notes', noisyKey, list(i + 1), noisySession))),
      Promise.all(Array.from({ length: burst }, (_, i) => mcpPost('notes', quietKey, list(i + 1), quietSession))),
    ]);
    const limited = noisyRes.filter((r) => r.status === 429);
    const served = noisyRes.filter((r) => r.status === 200);
    console.log(
      `tenant rpm burst: noisy tenant ${served.length} served, ${limited.length} refused; quiet tenant ${quietRes.filter((r) => r.status === 200).length}/${burst} served`,
    );
    // 2 requests opened the session; at most 10 fit in one window (20 if the burst straddles a minute boundary).
    expect(served.length).toBeLessThanOrEqual(20);
    expect(limited.length + served.length).toBe(burst);
    for (const r of limited) await expectTooMany(r, 'rpc');
    for (const r of quietRes) expect(r.status).toBe(200);
    await Promise.all([...served, ...quietRes].map((r) => r.body?.cancel()));

    // Every refusal is in the audit trail: coalesced events whose counts add up to the 429s, and metrics agree.
    const events = await waitForEvents(noisy.id, 'result=rate_limited', (e) => e.reduce((n, x) => n + x.details.count, 0) >= limited.length);
    expect(events.every((e) => e.action === 'limit.tenant_rpm' && e.server === 'notes')).toBe(true);
    expect(events.reduce((n, e) => n + e.details.count, 0)).toBe(limited.length);
    expect(events.length).toBeLessThan(limited.length);
    const metrics = await adminCall('GET', `/tenants/${noisy.id}/metrics?window=60&bucket=5`);
    expect(metrics.body.servers.find((m: any) => m.server === 'notes').rateLimited).toBe(limited.length);
  });
});

// Per-API-key and per-user rates (exact, minute/hour/day, settable per tenant and per key): credential-limits.test.ts.

describe('session quotas (exact, TenantLimiter)', () => {
  it('refuses sessions over the per-tenant quota at initialize, evicts instead at the per-user quota, and frees a slot on DELETE', async () => {
    const { id } = await seedTenant(['notes']);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { maxSessions: 2, maxSessionsPerUser: 1 } })).status).toBe(200);
    const [k1, k2, k3] = [(await createKey(id, 'member')).key, (await createKey(id, 'member')).key, (await createKey(id, 'member')).key];
    const first = await openSession('notes', k1);
    // At its own quota, k1's older session makes room (see session-quota.test.ts for the eviction itself).
    const s1 = await openSession('notes', k1);
    expect((await mcpPost('notes', k1, list(1), first)).status).toBe(404);

    await openSession('notes', k2);
    const third = await mcpPost('notes', k3, INIT);
    await expectTooMany(third.clone(), 'rpc', 31 * 60);
    expect(((await third.json()) as any).error.message).toMatch(/this tenant may have 2 concurrent sessions/);
    expect(third.headers.get('mcp-session-id')).toBeNull();

    const ended = await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${k1}`, 'mcp-session-id': s1, 'mcp-protocol-version': '2025-06-18' },
    });
    expect(ended.ok).toBe(true);
    await ended.body?.cancel();
    const again = await mcpPost('notes', k3, INIT);
    expect(again.status).toBe(200);
    await rpcMessages(again);
  });
});

describe('per-IP limits on unauthenticated endpoints (approximate, Rate Limiting binding)', () => {
  it('limits client registrations per IP; another IP is unaffected', async () => {
    const ip = someIp();
    const register = (from: string) =>
      SELF.fetch(`${ORIGIN}/oauth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'cf-connecting-ip': from },
        body: JSON.stringify({ client_name: 'burst', redirect_uris: ['http://127.0.0.1:9/cb'], token_endpoint_auth_method: 'none' }),
      });
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 130 && !limited; i++) {
      const res = await register(ip);
      statuses.push(res.status);
      if (res.status === 429) limited = res;
      else await res.body?.cancel();
    }
    expect(statuses.slice(0, 60).every((s) => s === 201)).toBe(true); // a window boundary only ever resets the count
    await expectTooMany(limited!, 'rest');
    expect((await register(someIp().replace('198.51.100', '203.0.113'))).status).toBe(201);
  });

  it('limits token requests per IP', async () => {
    const ip = someIp().replace('198.51.100', '192.0.2');
    let limited: Response | undefined;
    for (let i = 0; i < 250 && !limited; i++) {
      const res = await SELF.fetch(`${ORIGIN}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'cf-connecting-ip': ip },
        body: 'grant_type=authorization_code&code=nope',
      });
      if (res.status === 429) limited = res;
      else {
        expect(res.status).toBeLessThan(500);
        await res.body?.cancel();
      }
    }
    await expectTooMany(limited!, 'rest');
  });
});

describe('sign-in brute-force protection (exact back-off, TenantLimiter)', () => {
  it('backs off an account after 5 failures, even for the right password, and reports Retry-After', async () => {
    const { accounts } = await seedTenant(['notes']);
    const account = accounts.member!;
    const ip = someIp();
    const b = new FormBrowser((input, init) =>
      SELF.fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), 'cf-connecting-ip': ip } }),
    );
    const { url } = await authorizationRequest(ORIGIN, await registerClient(), `${ORIGIN}/servers/notes/mcp`);
    let page = await (await b.get(url)).text();
    const statuses: number[] = [];
    let throttled: Response | undefined;
    for (let i = 0; i < 8 && !throttled; i++) {
      const res = await b.post(formAction(page, url), { csrf: inputValue(page, 'csrf'), email: account.email, password: `Wrong-Password-${i}x` });
      statuses.push(res.status);
      if (res.status === 429) throttled = res;
      else page = await res.text();
    }
    console.log(`sign-in statuses: ${statuses.join(',')}`);
    expect(statuses.slice(0, 6)).toEqual([401, 401, 401, 401, 401, 401]);
    expect(throttled).toBeDefined();
    expect(Number(throttled!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(throttled!.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(await throttled!.text()).toContain('Too many sign-in attempts');

    // Locked: even the right password is not checked until the wait is over.
    const fresh = await (await b.get(url)).text();
    const right = await b.post(formAction(fresh, url), { csrf: inputValue(fresh, 'csrf'), email: account.email, password: PASSWORD });
    expect(right.status).toBe(429);
  });
});

describe('tenant limits in the admin API', () => {
  it('lets the operator set and reset limits, validates them, and refuses tenant admins', async () => {
    const { id } = await seedTenant(['notes']);
    const before = await adminCall('GET', `/tenants/${id}`);
    expect(before.body.limits).toEqual({
      requestsPerMinute: 1000,
      maxSessions: 100,
      maxSessionsPerUser: 20,
      maxUpstreams: 20,
      credentialPerMinute: 600,
      credentialPerHour: 20_000,
      credentialPerDay: 200_000,
    });
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { requestsPerMinute: 0 } })).status).toBe(400);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { requestsPerMinute: 1.5 } })).status).toBe(400);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { burst: 3 } })).status).toBe(400);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { maxSessions: 5, maxSessionsPerUser: 2 } })).body.limits).toMatchObject({
      requestsPerMinute: 1000,
      maxSessions: 5,
      maxSessionsPerUser: 2,
      credentialPerMinute: 600,
    });
    expect((await adminCall('GET', `/tenants/${id}`)).body.limits.maxSessions).toBe(5);
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { maxSessions: null } })).body.limits.maxSessions).toBe(100);
    const tenantAdmin = (await createKey(id, 'admin')).key;
    expect((await adminCall('PATCH', `/tenants/${id}`, { limits: { requestsPerMinute: 99_999 } }, tenantAdmin)).status).toBe(403);
  });
});
