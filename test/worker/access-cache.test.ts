import { describe, expect, it } from 'vitest';
import { ACCESS_CACHE_TTL_MS, cachedAccess, FLIGHT_WAIT_MS, forgetAccess } from '../../src/tenancy/access-cache';
import { auditQuery, waitForEvents } from './audit-support';
import { modernCall, textOf } from './modern-client';
import { adminCall, createKey, obtainToken, seedTenant } from './platform-client';

/**
 * The per-isolate credential cache of MCP routes (src/tenancy/access-cache.ts): a change made
 * through the platform applies to the very next request, even right after the credential was
 * served from the cache, and the refusal is audited exactly once. Without the invalidation each
 * attack below is served for up to ACCESS_CACHE_TTL_MS.
 */

const call = (key: string, marker: string) =>
  modernCall('everything', key, 'tools/call', { name: 'test_simple_text', arguments: {} }, { headers: { 'x-correlation-id': marker } });

/** Served twice (the second from this isolate's cache), so the change below must evict a cached lookup. */
async function warm(server: string, token: string, params: Record<string, unknown>): Promise<void> {
  for (let i = 0; i < 2; i++) expect((await modernCall(server, token, 'tools/call', params)).status).toBe(200);
}

const marker = () => `cache-${crypto.randomUUID()}`;

/** Events with the request's correlation id, once delivery has settled (nothing more arrives). */
async function eventsOf(path: string, correlationId: string): Promise<any[]> {
  const read = async () => ((await auditQuery(`${path}&limit=5000`)).body?.events ?? []).filter((e: any) => e.correlationId === correlationId);
  for (let i = 0; i < 120 && (await read()).length === 0; i++) await new Promise((r) => setTimeout(r, 250));
  await new Promise((r) => setTimeout(r, 500));
  return read();
}

describe('credential lookups cached per isolate on MCP routes', () => {
  it('refuses a key revoked, or rotated out with no grace, on the very next request after a cached one, audited once', async () => {
    const { id } = await seedTenant(['everything']);
    const since = Date.now() - 60_000;
    for (const change of ['revoke', 'rotate'] as const) {
      const { id: keyId, key } = await createKey(id, 'member');
      await warm('everything', key, { name: 'test_simple_text', arguments: {} });
      const res =
        change === 'revoke'
          ? await adminCall('DELETE', `/tenants/${id}/keys/${keyId}`)
          : await adminCall('POST', `/tenants/${id}/keys/${keyId}/rotate`, { graceHours: 0 });
      expect(res.status, change).toBeLessThan(300);
      const m = marker();
      expect((await call(key, m)).status, change).toBe(401);
      const events = await eventsOf(`/audit?tenant=_platform&action=auth.api_key&result=denied&from=${since}`, m);
      expect(events, change).toHaveLength(1);
      expect(events[0].details.reason).toBe(change === 'revoke' ? 'api key revoked' : 'api key expired');
    }
  });

  it('refuses a suspended tenant, a disabled server and a deleted tenant on the very next request, audited once', async () => {
    const { id } = await seedTenant(['everything']);
    const { key } = await createKey(id, 'member');
    await warm('everything', key, { name: 'test_simple_text', arguments: {} });
    expect((await adminCall('PATCH', `/tenants/${id}`, { status: 'suspended' })).status).toBe(200);
    const suspended = marker();
    const refused = await call(key, suspended);
    expect(refused.status).toBe(403);
    expect(refused.message.error.message).toBe('Access denied: tenant is suspended');

    expect((await adminCall('PATCH', `/tenants/${id}`, { status: 'active' })).status).toBe(200);
    await warm('everything', key, { name: 'test_simple_text', arguments: {} });
    expect((await adminCall('PATCH', `/tenants/${id}`, { servers: ['notes'] })).status).toBe(200);
    const disabled = marker();
    const off = await call(key, disabled);
    expect(off.status).toBe(403);
    expect(off.message.error.message).toBe('Access denied: server "everything" is not enabled for this tenant');
    for (const m of [suspended, disabled]) {
      const events = await eventsOf(`/tenants/${id}/audit?action=access&result=denied`, m);
      expect(events).toHaveLength(1);
      expect(events[0].server).toBe('everything');
    }

    expect((await adminCall('PATCH', `/tenants/${id}`, { servers: ['everything'] })).status).toBe(200);
    await warm('everything', key, { name: 'test_simple_text', arguments: {} });
    expect((await adminCall('DELETE', `/tenants/${id}`)).status).toBeLessThan(300);
    expect((await call(key, marker())).status).toBe(401);
  });

  it('applies a demoted or deleted user (OAuth) on the very next request, audited once', async () => {
    const tenant = await seedTenant(['storage'], ['member', 'read-only']);
    const { access_token } = await obtainToken(tenant.accounts.member!, 'storage');
    const put = { name: 'kv_put', arguments: { key: 'k', value: 'v' } };
    await warm('storage', access_token, put);
    const users = (await adminCall('GET', `/tenants/${tenant.id}/users`)).body.users as Array<{ id: string; email: string }>;
    const member = users.find((u) => u.email === tenant.accounts.member!.email)!;
    expect((await adminCall('PATCH', `/tenants/${tenant.id}/users/${member.id}`, { role: 'read-only' })).status).toBe(200);
    const demoted = marker();
    const refused = await modernCall('storage', access_token, 'tools/call', put, { headers: { 'x-correlation-id': demoted } });
    expect(refused.message.error.code).toBe(-32003);
    const events = await eventsOf(`/tenants/${tenant.id}/audit?action=tools/call&result=denied`, demoted);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ resource: 'kv_put', user: member.id });

    // Read tools still work for the demoted user (the cache holds the new role), until the account goes.
    const get = { name: 'kv_get', arguments: { key: 'k' } };
    expect(JSON.parse(textOf((await modernCall('storage', access_token, 'tools/call', get)).message))).toMatchObject({ value: 'v' });
    expect((await adminCall('DELETE', `/tenants/${tenant.id}/users/${member.id}`)).status).toBeLessThan(300);
    // Deleting the account also revokes its grants, so the token itself is refused.
    expect((await modernCall('storage', access_token, 'tools/call', get)).status).toBe(401);
  });

  it('keeps an answer at most ACCESS_CACHE_TTL_MS, never a lookup that a change overlapped, and only accepted ones', async () => {
    let clock = 1_000_000;
    const now = () => clock;
    let loads = 0;
    const load = async () => ({ n: ++loads, tenant: { servers: ['a'] } });
    const key = `unit-${crypto.randomUUID()}`;
    const first = await cachedAccess(key, load, () => true, now);
    expect(first.n).toBe(1);
    clock += ACCESS_CACHE_TTL_MS - 1;
    expect((await cachedAccess(key, load, () => true, now)).n).toBe(1);
    // Shared between requests, so nobody can alter it.
    expect(Object.isFrozen(first) && Object.isFrozen(first.tenant.servers)).toBe(true);
    clock += 1;
    expect((await cachedAccess(key, load, () => true, now)).n).toBe(2);

    // A change written while a lookup was in flight: that lookup's answer is served to its own
    // request but not kept, so the next request reads again.
    const racing = `unit-${crypto.randomUUID()}`;
    const overlapped = async () => {
      const value = await load();
      forgetAccess(); // the admin change commits before the lookup returns
      return value;
    };
    expect((await cachedAccess(racing, overlapped, () => true, now)).n).toBe(3);
    expect((await cachedAccess(racing, load, () => true, now)).n).toBe(4);
    expect((await cachedAccess(racing, load, () => true, now)).n).toBe(4);

    // Refusals (keep = false) are never kept.
    const refused = `unit-${crypto.randomUUID()}`;
    await cachedAccess(refused, load, () => false, now);
    expect((await cachedAccess(refused, load, () => false, now)).n).toBe(6);
  });

  it('still serves a key right after an unrelated change, and a new key at once', async () => {
    const { id } = await seedTenant(['everything']);
    const a = await createKey(id, 'member');
    await warm('everything', a.key, { name: 'test_simple_text', arguments: {} });
    const b = await createKey(id, 'member');
    expect(textOf((await call(b.key, marker())).message)).toContain('simple text');
    expect(textOf((await call(a.key, marker())).message)).toContain('simple text');
    await waitForEvents(id, 'action=tools/call', (e) => e.length >= 4);
  });

  it('shares one read among concurrent lookups of a credential, refusals included, but never across a change', async () => {
    let loads = 0;
    const gates: Array<() => void> = [];
    // A read that finishes when the test says so, numbered in the order reads start.
    const load = () =>
      new Promise<{ n: number }>((resolve) => {
        const n = ++loads;
        gates.push(() => resolve({ n }));
      });
    for (const keep of [true, false]) {
      const key = `unit-${crypto.randomUUID()}`;
      loads = 0;
      gates.length = 0;
      const burst = Array.from({ length: 25 }, () => cachedAccess(key, load, () => keep));
      await new Promise((r) => setTimeout(r, 10));
      expect(loads, `keep ${keep}`).toBe(1);
      gates[0]!();
      const answers = await Promise.all(burst);
      expect(new Set(answers).size, `keep ${keep}`).toBe(1);
      expect(answers[0]).toEqual({ n: 1 });
      // Shared between requests, so frozen even when it is not kept.
      expect(Object.isFrozen(answers[0])).toBe(true);
      // Once the read is over, a refusal is read again; an accepted answer is served from the cache.
      const after = cachedAccess(key, load, () => keep);
      if (!keep) gates[1]!();
      expect((await after).n, `keep ${keep}`).toBe(keep ? 1 : 2);
    }

    // A change written while a read is in flight: a lookup arriving after the change does not join
    // that read (it would get the answer from before the change); it reads D1 itself.
    const key = `unit-${crypto.randomUUID()}`;
    loads = 0;
    gates.length = 0;
    const before = cachedAccess(key, load, () => true);
    forgetAccess();
    const afterChange = cachedAccess(key, load, () => true);
    await new Promise((r) => setTimeout(r, 10));
    expect(loads).toBe(2);
    gates[1]!();
    expect((await afterChange).n).toBe(2);
    gates[0]!();
    expect((await before).n).toBe(1);
    // The read that overlapped the change is not kept; the one after it is.
    expect((await cachedAccess(key, load, () => true)).n).toBe(2);
  });

  it('reads for itself when the read it joined fails, or never settles (its request was cancelled)', async () => {
    let loads = 0;
    const failing = `unit-${crypto.randomUUID()}`;
    let failFirst!: (e: Error) => void;
    const leader = cachedAccess(
      failing,
      () => new Promise<{ n: number }>((_, reject) => ((loads = 1), (failFirst = reject))),
      () => true,
    );
    const follower = cachedAccess(
      failing,
      async () => ({ n: ++loads }),
      () => true,
    );
    await new Promise((r) => setTimeout(r, 10));
    failFirst(new Error('D1 unavailable'));
    await expect(leader).rejects.toThrow('D1 unavailable');
    expect(await follower).toEqual({ n: 2 });

    const hung = `unit-${crypto.randomUUID()}`;
    void cachedAccess(
      hung,
      () => new Promise<{ n: number }>(() => undefined),
      () => true,
    );
    const started = Date.now();
    expect(
      await cachedAccess(
        hung,
        async () => ({ n: 7 }),
        () => true,
      ),
    ).toEqual({ n: 7 });
    // Tolerance: it waited for the hung read (about FLIGHT_WAIT_MS), then read itself.
    expect(Date.now() - started).toBeGreaterThanOrEqual(FLIGHT_WAIT_MS - 50);
  });
});
