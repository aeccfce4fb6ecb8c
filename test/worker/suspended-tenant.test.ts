import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { FormBrowser, inputValue } from '../support/browser-forms';
import { auditQuery } from './audit-support';
import { ORIGIN, adminCall, createKey, seedTenant } from './platform-client';

/**
 * Finding 8 of the security review: a suspended tenant's admins still changed its control plane.
 * Suspended now means read-only for the tenant's own admins, on every route that changes anything
 * (REST and dashboard forms), while the operator keeps every power.
 */

const D = `${ORIGIN}/dashboard`;
const upstreamBody = (name: string) => ({ name, url: 'https://mcp.example.com/mcp' });

async function suspendedTenantWithState() {
  const t = await seedTenant(['notes'], ['admin', 'member']);
  const admin = await createKey(t.id, 'admin');
  const victimKey = await createKey(t.id, 'member');
  const users = (await adminCall('GET', `/tenants/${t.id}/users`)).body.users as Array<{ id: string; role: string }>;
  const member = users.find((u) => u.role === 'member')!;
  expect((await adminCall('POST', `/tenants/${t.id}/upstreams`, upstreamBody('up-keep'))).status).toBe(201);
  expect((await adminCall('PATCH', `/tenants/${t.id}`, { status: 'suspended' })).status).toBe(200);
  return { ...t, admin, victimKey, member };
}

/**
 * Denied audit events of the tenant for one action (read as the operator), once at least `expected`
 * have arrived (delivery is asynchronous) or the wait ends; the caller asserts the exact count.
 */
async function deniedCount(tenant: string, action: string, expected: number): Promise<number> {
  for (let i = 0; ; i++) {
    const res = await auditQuery(`/tenants/${tenant}/audit?limit=5000&action=${encodeURIComponent(action)}&result=denied`);
    if (res.body.events.length >= expected || i >= 80) return res.body.events.length;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('suspended tenants are read-only for their own admins (security review finding 8)', () => {
  it('refuses every changing admin route with 403 tenant_suspended, changes nothing, and audits each refusal once', async () => {
    const t = await suspendedTenantWithState();
    const base = `/tenants/${t.id}`;
    const attempts: Array<[method: string, path: string, body: unknown, action: string]> = [
      ['PATCH', base, { name: 'Renamed' }, 'admin.tenant.update'],
      ['PATCH', base, { status: 'active' }, 'admin.tenant.update'],
      ['POST', `${base}/users`, { email: `new-${t.id}@x.test`, password: 'Correct-Horse-Battery-9', role: 'admin' }, 'admin.user.create'],
      ['PATCH', `${base}/users/${t.member.id}`, { role: 'admin' }, 'admin.user.update'],
      ['PATCH', `${base}/users/${t.member.id}`, { password: 'Another-Horse-Battery-9' }, 'admin.user.update'],
      ['DELETE', `${base}/users/${t.member.id}`, undefined, 'admin.user.delete'],
      ['POST', `${base}/keys`, { name: 'sneaky', role: 'admin' }, 'admin.key.create'],
      ['DELETE', `${base}/keys/${t.victimKey.id}`, undefined, 'admin.key.revoke'],
      ['POST', `${base}/keys/${t.victimKey.id}/rotate`, { graceHours: 0 }, 'admin.key.rotate'],
      ['PUT', `${base}/audit/retention`, { days: 1 }, 'admin.audit_retention.update'],
      ['POST', `${base}/upstreams`, upstreamBody('up-new'), 'admin.upstream.create'],
      ['PATCH', `${base}/upstreams/up-keep`, { url: 'https://other.example.com/mcp', credentials: { kind: 'bearer', token: 'x' } }, 'admin.upstream.update'],
      ['POST', `${base}/upstreams/up-keep/approve`, undefined, 'admin.upstream.approve'],
      ['DELETE', `${base}/upstreams/up-keep`, undefined, 'admin.upstream.delete'],
    ];
    const expected = new Map<string, number>();
    for (const [method, path, body, action] of attempts) {
      const res = await adminCall(method, path, body, t.admin.key);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code, `${method} ${path}`).toBe('tenant_suspended');
      expect(res.body.error.message).toMatch(/suspended.*read/);
      expected.set(action, (expected.get(action) ?? 0) + 1);
    }
    // A method the router does not know for a path is still a 405, not a way around the rule.
    expect((await adminCall('PUT', `${base}/users`, {}, t.admin.key)).status).toBe(405);

    // Nothing changed.
    const tenant = (await adminCall('GET', base)).body;
    expect(tenant).toMatchObject({ name: `Tenant ${t.id}`, status: 'suspended' });
    const users = (await adminCall('GET', `${base}/users`)).body.users;
    expect(users).toHaveLength(2);
    expect(users.find((u: any) => u.id === t.member.id).role).toBe('member');
    const keys = (await adminCall('GET', `${base}/keys`)).body.keys;
    expect(keys).toHaveLength(2);
    expect(keys.every((k: any) => k.revokedAt === null && k.replacedBy === null)).toBe(true);
    expect((await adminCall('GET', `${base}/audit/retention`)).body.days).not.toBe(1);
    const upstreams = (await adminCall('GET', `${base}/upstreams`)).body.upstreams;
    expect(upstreams.map((u: any) => [u.name, u.url, u.hasCredentials])).toEqual([['up-keep', 'https://mcp.example.com/mcp', false]]);

    // Each refusal is in the trail exactly once.
    for (const [action, n] of expected) expect(await deniedCount(t.id, action, n), action).toBe(n);
  });

  it('still lets the suspended tenant admin read users, keys, upstreams and export the audit trail', async () => {
    const t = await suspendedTenantWithState();
    const base = `/tenants/${t.id}`;
    for (const path of [
      base,
      `${base}/users`,
      `${base}/keys`,
      `${base}/upstreams`,
      `${base}/upstreams/up-keep`,
      `${base}/audit`,
      `${base}/audit/retention`,
      `${base}/metrics`,
    ]) {
      expect((await adminCall('GET', path, undefined, t.admin.key)).status, path).toBe(200);
    }
    for (const format of ['csv', 'jsonl']) {
      const res = await SELF.fetch(`${ORIGIN}/admin/api${base}/audit?format=${format}`, { headers: { authorization: `Bearer ${t.admin.key}` } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  });

  it('the operator can still change a suspended tenant, and resuming gives its admins their powers back', async () => {
    const t = await suspendedTenantWithState();
    const base = `/tenants/${t.id}`;
    expect((await adminCall('PATCH', base, { name: 'By operator' })).status).toBe(200);
    expect((await adminCall('POST', `${base}/keys`, { name: 'op', role: 'member' })).status).toBe(201);
    expect((await adminCall('PATCH', `${base}/users/${t.member.id}`, { role: 'read-only' })).status).toBe(200);
    expect((await adminCall('POST', `${base}/upstreams`, upstreamBody('up-op'))).status).toBe(201);
    expect((await adminCall('PATCH', base, { status: 'active' })).status).toBe(200);
    expect((await adminCall('POST', `${base}/keys`, { name: 'back', role: 'member' }, t.admin.key)).status).toBe(201);
  });

  it('refuses every dashboard form of a suspended tenant and still shows its pages and audit export', async () => {
    const t = await seedTenant(['notes'], ['admin', 'member']);
    const key = await createKey(t.id, 'member');
    const users = (await adminCall('GET', `/tenants/${t.id}/users`)).body.users as Array<{ id: string; role: string }>;
    const member = users.find((u) => u.role === 'member')!;
    const browser = new FormBrowser((input, init) => SELF.fetch(input, init));
    const form = await (await browser.get(`${D}/sign-in`)).text();
    expect(
      (await browser.post(`${D}/sign-in`, { csrf: inputValue(form, 'csrf'), email: t.accounts.admin!.email, password: t.accounts.admin!.password })).status,
    ).toBe(303);
    const keysPage = await (await browser.get(`${D}/t/${t.id}/keys`)).text();
    const csrf = inputValue(keysPage, 'csrf');
    expect((await adminCall('PATCH', `/tenants/${t.id}`, { status: 'suspended' })).status).toBe(200);

    const posts: Array<[string, Record<string, string>]> = [
      [`keys`, { name: 'sneaky', role: 'admin' }],
      [`keys/${key.id}/revoke`, {}],
      [`keys/${key.id}/rotate`, { graceHours: '0' }],
      [`users`, { email: `n-${t.id}@x.test`, password: 'Correct-Horse-Battery-9', role: 'admin' }],
      [`users/${member.id}/role`, { role: 'admin' }],
      [`users/${member.id}/delete`, {}],
    ];
    for (const [path, fields] of posts) {
      const res = await browser.post(`${D}/t/${t.id}/${path}`, { csrf, ...fields });
      expect(res.status, path).toBe(403);
      expect(await res.text(), path).toContain('suspended');
    }
    for (const page of ['servers', 'keys', 'users', 'audit', 'audit/export?format=csv', 'metrics']) {
      expect((await browser.get(`${D}/t/${t.id}/${page}`)).status, page).toBe(200);
    }
    const keys = (await adminCall('GET', `/tenants/${t.id}/keys`)).body.keys;
    expect(keys.map((k: any) => [k.id, k.revokedAt, k.replacedBy])).toEqual([[key.id, null, null]]);
    const after = (await adminCall('GET', `/tenants/${t.id}/users`)).body.users;
    expect(after.find((u: any) => u.id === member.id).role).toBe('member');
    expect(after).toHaveLength(2);
    expect(await deniedCount(t.id, 'dashboard.change', posts.length)).toBe(posts.length);
  });
});
