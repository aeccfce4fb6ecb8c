import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { open, keyringFrom } from '../../src/crypto/sealed-secrets';
import { alertSecretContext } from '../../src/alerts/alert-model';
import { adminCall, createKey, createTenant, seedTenant } from './platform-client';
import { D, signedIn } from './dashboard-support';

// Alert rules through the admin API under production URL rules (SMCP_ALLOW_PRIVATE_UPSTREAMS unset here).

const rule = (webhookUrl: string, extra: Record<string, unknown> = {}) => ({
  server: 'github',
  metric: 'p95_latency_ms',
  threshold: 500,
  webhookUrl,
  ...extra,
});

describe('alert rules (admin API)', () => {
  it('refuses private, loopback and plain-http webhook URLs in production, and invalid rules, with clear errors', async () => {
    const t = await createTenant([]);
    for (const url of [
      'http://127.0.0.1:9/hook',
      'https://127.0.0.1/hook',
      'https://10.0.0.8/x',
      'https://169.254.169.254/latest',
      'https://[::1]/x',
      'https://localhost./x',
      'http://hooks.example.com/x',
      'https://user:pw@hooks.example.com/x',
    ]) {
      const res = await adminCall('POST', `/tenants/${t}/alerts`, rule(url));
      expect(res.status, url).toBe(400);
      expect(res.body.error.code, url).toBe('url_refused');
    }
    for (const bad of [
      rule('https://hooks.example.com/x', { metric: 'cpu' }),
      rule('https://hooks.example.com/x', { metric: 'error_rate', threshold: 5 }),
      rule('https://hooks.example.com/x', { windowMinutes: 0 }),
      rule('https://hooks.example.com/x', { extra: 1 }),
      { metric: 'p95_latency_ms', webhookUrl: 'https://hooks.example.com/x' },
    ]) {
      const res = await adminCall('POST', `/tenants/${t}/alerts`, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
    expect((await adminCall('GET', `/tenants/${t}/alerts`)).body.alerts).toEqual([]);
  });

  it('shows the signing secret once, stores it sealed, and lets the tenant admin manage its rules', async () => {
    const t = await createTenant([]);
    const admin = await createKey(t, 'admin');
    const created = await adminCall('POST', `/tenants/${t}/alerts`, rule('https://hooks.example.com/smcp'), admin.key);
    expect(created.status).toBe(201);
    const { id, secret } = created.body;
    expect(id).toMatch(/^al_[0-9a-f]{16}$/);
    expect(secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    const got = await adminCall('GET', `/tenants/${t}/alerts/${id}`, undefined, admin.key);
    expect(got.body).toMatchObject({ id, server: 'github', metric: 'p95_latency_ms', threshold: 500, windowMinutes: 5, state: 'ok', enabled: true });
    expect(JSON.stringify(got.body)).not.toContain(secret);
    // Stored sealed under this tenant and rule; it opens only with that context.
    const stored = await env.TENANT_ALERTS.get(env.TENANT_ALERTS.idFromName(t));
    const { runInDurableObject } = await import('cloudflare:test');
    const sealed = await runInDurableObject(stored, async (_o, state) => ((await state.storage.get(`rule:${id}`)) as { sealedSecret: string }).sealedSecret);
    expect(sealed).not.toContain(secret.slice(6));
    const ring = await keyringFrom(env);
    expect(await open(ring, sealed, alertSecretContext(t, id))).toBe(secret);
    await expect(open(ring, sealed, alertSecretContext('other', id))).rejects.toThrow();

    const patched = await adminCall('PATCH', `/tenants/${t}/alerts/${id}`, { threshold: 800, enabled: false }, admin.key);
    expect(patched.body).toMatchObject({ threshold: 800, enabled: false });
    expect((await adminCall('PATCH', `/tenants/${t}/alerts/${id}`, { webhookUrl: 'https://192.168.1.1/x' }, admin.key)).body.error.code).toBe('url_refused');
    expect((await adminCall('PATCH', `/tenants/${t}/alerts/${id}`, { metric: 'error_rate' }, admin.key)).status).toBe(400);
    expect((await adminCall('DELETE', `/tenants/${t}/alerts/${id}`, undefined, admin.key)).status).toBe(204);
    expect((await adminCall('GET', `/tenants/${t}/alerts/${id}`, undefined, admin.key)).status).toBe(404);
  });

  it("never shows or changes another tenant's rules, and a suspended tenant's admins may only read", async () => {
    const a = await createTenant([]);
    const b = await createTenant([]);
    const adminB = await createKey(b, 'admin');
    const created = await adminCall('POST', `/tenants/${a}/alerts`, rule('https://hooks.example.com/a'));
    expect(created.status).toBe(201);
    expect((await adminCall('GET', `/tenants/${a}/alerts`, undefined, adminB.key)).status).toBe(404);
    expect((await adminCall('DELETE', `/tenants/${a}/alerts/${created.body.id}`, undefined, adminB.key)).status).toBe(404);
    expect((await adminCall('GET', `/tenants/${b}/alerts/${created.body.id}`, undefined, adminB.key)).status).toBe(404);

    const adminA = await createKey(a, 'admin');
    expect((await adminCall('PATCH', `/tenants/${a}`, { status: 'suspended' })).status).toBe(200);
    expect((await adminCall('GET', `/tenants/${a}/alerts`, undefined, adminA.key)).body.alerts).toHaveLength(1);
    for (const [method, path, body] of [
      ['POST', '/alerts', rule('https://hooks.example.com/x')],
      ['PATCH', `/alerts/${created.body.id}`, { threshold: 1 }],
      ['DELETE', `/alerts/${created.body.id}`, undefined],
      ['POST', '/alerts/evaluate', undefined],
    ] as const) {
      const res = await adminCall(method, `/tenants/${a}${path}`, body, adminA.key);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe('tenant_suspended');
    }
    expect((await adminCall('GET', `/tenants/${a}/alerts/${created.body.id}`, undefined, adminA.key)).body.threshold).toBe(500);
  });

  it('the dashboard lists the rules (escaped) for admins, never the secret, and not for members', async () => {
    const t = await seedTenant([], ['admin', 'member']);
    const created = await adminCall('POST', `/tenants/${t.id}/alerts`, rule('https://hooks.example.com/<b>x</b>', { server: 'files' }));
    expect(created.status).toBe(201);
    const admin = await signedIn(t.accounts.admin!);
    const res = await admin.browser.get(`${D}/t/${t.id}/alerts`);
    const page = await res.text();
    expect(res.status).toBe(200);
    expect(page).toContain(`data-alert="${created.body.id}"`);
    expect(page).toContain('p95_latency_ms');
    expect(page).toContain('hooks.example.com');
    expect(page).not.toContain(created.body.secret);
    const member = await signedIn(t.accounts.member!);
    expect((await member.browser.get(`${D}/t/${t.id}/alerts`)).status).toBe(403);
  });
});
