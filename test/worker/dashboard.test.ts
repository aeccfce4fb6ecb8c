import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { FormBrowser, inputValue } from '../support/browser-forms';
import { D, operatorSignedIn, signedIn } from './dashboard-support';
import { adminCall, mcpPost, ORIGIN, seedTenant } from './platform-client';
import type { AuditEvent } from '../../src/audit/audit-event';
import { seedStoreEvents } from './audit-support';

/**
 * The dashboard through the real Worker: sessions, CSRF, access rules, escaping and the shared
 * admin operations. The browser-level journey (Chromium) is test/node/dashboard-browser.test.ts.
 */

const initialize = (key: string) =>
  mcpPost('notes', key, {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'dash-test', version: '1' } },
  });

describe('dashboard sign-in and session', () => {
  it('sends visitors without a session to a labelled sign-in form under a strict CSP', async () => {
    const res = await SELF.fetch(`${D}/t/anything/keys`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/dashboard/sign-in');
    const page = await SELF.fetch(`${D}/sign-in`);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const cookie = page.headers.getSetCookie().find((c) => c.startsWith('__Host-smcp-dash-csrf='))!;
    expect(cookie).toMatch(/HttpOnly; Secure; SameSite=Strict/);
    const html = await page.text();
    expect(html).toContain('<label for="email">');
    expect(html).toContain('<label for="password">');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(html).not.toMatch(/ style=/);
  });

  it('refuses a sign-in without the CSRF cookie, and a wrong password, and issues a hashed server-side session', async () => {
    const { accounts } = await seedTenant(['notes'], ['admin']);
    const admin = accounts.admin!;
    const noCookie = await SELF.fetch(`${D}/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: 'x'.repeat(64), email: admin.email, password: admin.password }),
    });
    expect(noCookie.status).toBe(403);
    expect(noCookie.headers.getSetCookie().some((c) => c.startsWith('__Host-smcp-dash='))).toBe(false);

    const browser = new FormBrowser((input, init) => SELF.fetch(input, init));
    const form = await (await browser.get(`${D}/sign-in`)).text();
    const wrong = await browser.post(`${D}/sign-in`, { csrf: inputValue(form, 'csrf'), email: admin.email, password: 'Wrong-Password-123' });
    expect(wrong.status).toBe(401);
    const form2 = await wrong.text();
    const ok = await browser.post(`${D}/sign-in`, { csrf: inputValue(form2, 'csrf'), email: admin.email, password: admin.password });
    expect(ok.status).toBe(303);
    const cookie = ok.headers.getSetCookie().find((c) => c.startsWith('__Host-smcp-dash='))!;
    expect(cookie).toMatch(/; Path=\/; HttpOnly; Secure; SameSite=Strict; Max-Age=28800$/);
    const token = cookie.split(';')[0]!.split('=')[1]!;
    const { keys } = await env.OAUTH_KV.list({ prefix: 'dashboard:session:' });
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k.name).not.toContain(token);
    for (const k of keys) expect(await env.OAUTH_KV.get(k.name)).not.toContain(token);
  });

  it('signs out for real: the old cookie no longer opens any page', async () => {
    const { accounts } = await seedTenant(['notes'], ['admin']);
    const { browser, csrf, home } = await signedIn(accounts.admin!);
    const cookieHeader = (browser as unknown as { cookieHeader(): string }).cookieHeader();
    const out = await browser.post(`${D}/sign-out`, { csrf });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/dashboard/sign-in');
    const replay = await SELF.fetch(home, { redirect: 'manual', headers: { cookie: cookieHeader } });
    expect(replay.status).toBe(303);
    expect(replay.headers.get('location')).toBe('/dashboard/sign-in');
  });
});

describe('dashboard pages and access', () => {
  it('escapes tenant-controlled text and shows connection snippets for enabled servers only', async () => {
    const { id, accounts } = await seedTenant(['notes'], ['admin']);
    expect((await adminCall('PATCH', `/tenants/${id}`, { name: '<script>alert("x")</script>' })).status).toBe(200);
    const { browser, home } = await signedIn(accounts.admin!);
    const html = await (await browser.get(home)).text();
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(html).toContain(`${ORIGIN}/servers/notes/mcp`);
    expect(html).toContain('mcp-remote');
    expect(html).toContain('data-copy="snippet-notes-claude"');
    expect(html).not.toContain('snippet-everything-');
  });

  it('creates a key (shown once), which works at an MCP endpoint until it is revoked from the dashboard', async () => {
    const { id, accounts } = await seedTenant(['notes'], ['admin']);
    const { browser, csrf } = await signedIn(accounts.admin!);
    const created = await browser.post(`${D}/t/${id}/keys`, { csrf, name: 'ci <runner>', role: 'member', expiresInDays: '30' });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const page = await created.text();
    const key = /<code id="new-key">(smcp_[^<]+)<\/code>/.exec(page)![1]!;
    expect(page).toContain('ci &lt;runner&gt;');
    expect((await initialize(key)).status).toBe(200);
    const keyId = /data-key-id="(key_[a-z0-9]+)"/.exec(page)![1]!;
    const listed = await (await browser.get(`${D}/t/${id}/keys`)).text();
    expect(listed).not.toContain(key);
    const revoked = await browser.post(`${D}/t/${id}/keys/${keyId}/revoke`, { csrf });
    expect(revoked.status).toBe(303);
    expect((await initialize(key)).status).toBe(401);
  });

  it('rotates a key with the chosen grace and records every change in the audit trail as a dashboard change', async () => {
    const { id, accounts } = await seedTenant(['notes'], ['admin']);
    const { browser, csrf } = await signedIn(accounts.admin!);
    const page = await (await browser.post(`${D}/t/${id}/keys`, { csrf, name: 'deploy', role: 'member' })).text();
    const oldKey = /<code id="new-key">(smcp_[^<]+)<\/code>/.exec(page)![1]!;
    const keyId = /data-key-id="(key_[a-z0-9]+)"/.exec(page)![1]!;
    const rotated = await browser.post(`${D}/t/${id}/keys/${keyId}/rotate`, { csrf, graceHours: '0' });
    expect(rotated.status).toBe(201);
    const newKey = /<code id="new-key">(smcp_[^<]+)<\/code>/.exec(await rotated.text())![1]!;
    expect(newKey).not.toBe(oldKey);
    expect((await initialize(newKey)).status).toBe(200);
    expect((await initialize(oldKey)).status).toBe(401);
    expect((await browser.post(`${D}/t/${id}/keys/${keyId}/rotate`, { csrf, graceHours: '0' })).status).toBe(404);

    const userId = (await adminCall('GET', `/tenants/${id}/users`)).body.users[0].id;
    let actions: string[] = [];
    for (let i = 0; i < 50 && actions.length < 4; i++) {
      const { body } = await adminCall('GET', `/tenants/${id}/audit?user=${userId}&limit=5000`);
      actions = body.events
        .filter((e: any) => e.details?.via === 'dashboard')
        .reverse()
        .map((e: any) => `${e.action}:${e.result}`);
      if (actions.length < 4) await new Promise((r) => setTimeout(r, 100));
    }
    expect(actions).toEqual(['auth.sign_in:ok', 'admin.key.create:ok', 'admin.key.rotate:ok', 'admin.key.rotate:denied']);
  });

  it('refuses posts without the session CSRF token or from another origin, changing nothing', async () => {
    const { id, accounts } = await seedTenant(['notes'], ['admin']);
    const { browser, csrf } = await signedIn(accounts.admin!);
    const before = (await adminCall('GET', `/tenants/${id}/keys`)).body.keys.length;
    expect((await browser.post(`${D}/t/${id}/keys`, { name: 'x', role: 'member' })).status).toBe(403);
    expect((await browser.post(`${D}/t/${id}/keys`, { csrf: 'f'.repeat(64), name: 'x', role: 'member' })).status).toBe(403);
    expect((await browser.post(`${D}/t/${id}/keys`, { csrf, name: 'x', role: 'member' }, 'https://evil.example')).status).toBe(403);
    expect((await adminCall('GET', `/tenants/${id}/keys`)).body.keys.length).toBe(before);
  });

  it("answers another tenant's pages exactly like nonexistent ones, and keeps non-admins to the servers page", async () => {
    const a = await seedTenant(['notes'], ['admin', 'member']);
    const b = await seedTenant(['notes'], ['admin']);
    const { browser, csrf } = await signedIn(a.accounts.admin!);
    for (const section of ['servers', 'keys', 'users', 'audit', 'metrics']) {
      const other = await browser.get(`${D}/t/${b.id}/${section}`);
      const none = await browser.get(`${D}/t/no-such-tenant/${section}`);
      expect(other.status).toBe(404);
      expect(none.status).toBe(404);
    }
    expect((await browser.post(`${D}/t/${b.id}/keys`, { csrf, name: 'x', role: 'admin' })).status).toBe(404);
    expect((await adminCall('GET', `/tenants/${b.id}/keys`)).body.keys).toHaveLength(0);
    expect((await browser.get(`${D}/operator`)).status).toBe(404);

    const member = await signedIn(a.accounts.member!);
    expect((await member.browser.get(`${D}/t/${a.id}/servers`)).status).toBe(200);
    for (const section of ['keys', 'users', 'audit', 'metrics']) expect((await member.browser.get(`${D}/t/${a.id}/${section}`)).status).toBe(403);
  });

  it('manages users and roles through the same rules as the admin API', async () => {
    const { id, accounts } = await seedTenant(['notes'], ['admin']);
    const { browser, csrf } = await signedIn(accounts.admin!);
    const weak = await browser.post(`${D}/t/${id}/users`, { csrf, email: `new@${id}.test`, password: 'short', role: 'member' });
    expect(weak.status).toBe(400);
    expect(await weak.text()).toContain('at least 12 characters');
    const added = await browser.post(`${D}/t/${id}/users`, { csrf, email: `new@${id}.test`, password: 'Another-Good-Pass-1', role: 'member' });
    expect(added.status).toBe(201);
    const userId = (await adminCall('GET', `/tenants/${id}/users`)).body.users.find((u: any) => u.email === `new@${id}.test`).id;
    expect((await browser.post(`${D}/t/${id}/users/${userId}/role`, { csrf, role: 'read-only' })).status).toBe(303);
    expect((await adminCall('GET', `/tenants/${id}/users`)).body.users.find((u: any) => u.id === userId).role).toBe('read-only');
    expect((await browser.post(`${D}/t/${id}/users/${userId}/delete`, { csrf })).status).toBe(303);
    expect((await adminCall('GET', `/tenants/${id}/users`)).body.users.some((u: any) => u.id === userId)).toBe(false);
  });

  it('lets the operator sign in with the operator token and suspend and resume a tenant', async () => {
    const { id } = await seedTenant(['notes'], ['admin']);
    const bad = new FormBrowser((input, init) => SELF.fetch(input, init));
    const form = await (await bad.get(`${D}/operator/sign-in`)).text();
    expect((await bad.post(`${D}/operator/sign-in`, { csrf: inputValue(form, 'csrf'), token: 'not-the-token' })).status).toBe(401);

    const { browser, csrf } = await operatorSignedIn();
    const page = await (await browser.get(`${D}/operator`)).text();
    expect(page).toContain(`data-tenant="${id}"`);
    expect((await browser.post(`${D}/operator/tenants/${id}/status`, { csrf, status: 'suspended' })).status).toBe(303);
    expect((await adminCall('GET', `/tenants/${id}`)).body.status).toBe('suspended');
    expect((await browser.post(`${D}/operator/tenants/${id}/status`, { csrf, status: 'active' })).status).toBe(303);
    expect((await adminCall('GET', `/tenants/${id}`)).body.status).toBe('active');
    expect((await browser.get(`${D}/t/${id}/keys`)).status).toBe(200);
  });

  it('serves its script and styles as files with nosniff, and nothing else under /dashboard/assets', async () => {
    for (const [file, type] of [
      ['dashboard.js', 'text/javascript'],
      ['dashboard.css', 'text/css'],
      ['uplot.iife.min.js', 'text/javascript'],
      ['uplot.min.css', 'text/css'],
    ]) {
      const res = await SELF.fetch(`${D}/assets/${file}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type!);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect((await res.text()).length).toBeGreaterThan(500);
    }
    expect((await SELF.fetch(`${D}/assets/../../admin/api/tenants`)).status).not.toBe(200);
    expect((await SELF.fetch(`${D}/assets/constructor`)).status).toBe(404);
  });
});

describe('dashboard audit viewer and metrics', () => {
  /** Audit events written straight into the tenant's store, as the outbox would ship them. */
  async function seedEvents(tenant: string, n: number, extra: Partial<Record<string, unknown>> = {}): Promise<AuditEvent[]> {
    const now = Date.now();
    return seedStoreEvents(
      tenant,
      Array.from({ length: n }, (_, i) => ({
        time: now - i * 1000,
        action: String(extra.action ?? 'tools/call'),
        result: i % 5 === 0 ? 'error' : 'ok',
        user: 'usr_x',
        server: 'notes',
        resource: String(extra.resource ?? 'add_note'),
        latencyMs: 10 + i,
        session: 'sess-1',
        details: { note: '<b>hi</b>' },
      })),
    );
  }

  it('lists, filters, pages, exports and details only the tenant’s own events, escaped', async () => {
    const a = await seedTenant(['notes'], ['admin']);
    const b = await seedTenant(['notes'], ['admin']);
    const seeded = await seedEvents(a.id, 60, { resource: '<img src=x onerror=alert(1)>' });
    const ids = seeded.map((e) => e.id);
    const foreign = (await seedEvents(b.id, 3, { resource: 'other-tenant-secret' }))[0]!;
    const { browser } = await signedIn(a.accounts.admin!);
    const first = await (await browser.get(`${D}/t/${a.id}/audit?action=tools%2Fcall`)).text();
    expect(first).not.toContain('other-tenant-secret');
    expect(first).not.toContain('<img src=x');
    expect(first).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(first.match(/<tr>\n  <td><a href=/g)).toHaveLength(50);
    const next = /href="([^"]+cursor=[^"]+)" rel="next"/.exec(first)![1]!.replaceAll('&amp;', '&');
    const second = await (await browser.get(`${ORIGIN}${next}`)).text();
    expect(second.match(/<tr>\n  <td><a href=/g)).toHaveLength(10);

    const errors = await (await browser.get(`${D}/t/${a.id}/audit?action=tools%2Fcall&result=error`)).text();
    expect(errors.match(/<tr>\n  <td><a href=/g)).toHaveLength(12);
    expect((await browser.get(`${D}/t/${a.id}/audit?result=bogus`)).status).toBe(400);

    const csv = await browser.get(`${D}/t/${a.id}/audit/export?format=csv&action=tools%2Fcall&result=error`);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect((await csv.text()).trim().split('\r\n')).toHaveLength(13);

    const detail = await browser.get(`${D}/t/${a.id}/audit/${ids[0]}?at=${seeded[0]!.time}`);
    const detailHtml = await detail.text();
    expect(detail.status).toBe(200);
    expect(detailHtml).toContain(ids[0]);
    expect(detailHtml).toContain('&lt;b&gt;hi&lt;/b&gt;');
    expect((await browser.get(`${D}/t/${a.id}/audit/${foreign.id}?at=${foreign.time}`)).status).toBe(404);
  });

  it('renders metrics with chart data and per-server figures from the metrics API', async () => {
    const { id, accounts } = await seedTenant(['notes'], ['admin']);
    await seedEvents(id, 20);
    const { browser } = await signedIn(accounts.admin!);
    const res = await browser.get(`${D}/t/${id}/metrics`);
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html).toContain('src="/dashboard/assets/uplot.iife.min.js"');
    const data = JSON.parse(/data-metrics="([^"]+)"/.exec(html)![1]!.replaceAll('&quot;', '"').replaceAll('&amp;', '&'));
    expect(data.servers).toEqual(['notes']);
    // Points sit on bucket boundaries (20 events within 20 s fall in one or two 5-minute buckets).
    expect(data.series.length).toBeLessThanOrEqual(2);
    for (const p of data.series) expect((p.start - data.from) % data.bucketMs).toBe(0);
    expect(data.series.reduce((n: number, p: any) => n + p.requests, 0)).toBe(20);
    expect(html).toMatch(/<td>notes<\/td><td class="num">20<\/td><td class="num">4<\/td>/);
    expect(html).toContain('<strong id="active-sessions">1</strong>');
  });
});
