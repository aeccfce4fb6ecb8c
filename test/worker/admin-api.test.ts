import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { handleAdminApi } from '../../src/admin/admin-api';
import { ORIGIN, OPERATOR, PASSWORD, adminPost } from './platform-client';

const slug = () => `a-${crypto.randomUUID().slice(0, 8)}`;

describe('operator bootstrap admin API', () => {
  it('does not exist (404) when SMCP_ADMIN_TOKEN is unset', async () => {
    const request = new Request(`${ORIGIN}/admin/api/tenants`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}` } });
    const res = await handleAdminApi(request, { ...env, SMCP_ADMIN_TOKEN: '' } as Env, '/admin/api/tenants');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: 'not_found', message: 'Not found' } });
  });

  it('requires the operator token', async () => {
    for (const authorization of ['', 'Bearer wrong', `Basic ${OPERATOR}`, `Bearer ${OPERATOR}x`]) {
      const res = await SELF.fetch(`${ORIGIN}/admin/api/tenants`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status, authorization).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
    }
  });

  it('creates tenants and users, and never returns password material', async () => {
    const id = slug();
    const tenant = await adminPost('/tenants', { id, name: 'Acme', servers: ['notes'] });
    expect(tenant.status).toBe(201);
    expect(await tenant.json()).toMatchObject({ id, name: 'Acme', status: 'active', servers: ['notes'] });
    const user = await adminPost(`/tenants/${id}/users`, { email: `Boss@${id}.TEST`, password: PASSWORD, role: 'admin' });
    expect(user.status).toBe(201);
    const body = (await user.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ tenantId: id, email: `boss@${id}.test`, role: 'admin' });
    expect(JSON.stringify(body)).not.toMatch(/password|pbkdf2/i);
    const row = await env.DB.prepare('SELECT password_hash FROM users WHERE id = ?').bind(body.id).first<{ password_hash: string }>();
    expect(row!.password_hash).toMatch(/^pbkdf2-sha256\$100000\$[0-9a-f]{32}\$[0-9a-f]{64}$/);
    expect(row!.password_hash).not.toContain(PASSWORD);
  });

  it('answers bad input with 4xx JSON errors', async () => {
    const id = slug();
    expect((await adminPost('/tenants', { id, name: 'One', servers: [] })).status).toBe(201);
    const cases: Array<[string, unknown, number, string]> = [
      ['/tenants', { id: 'Bad Slug!', name: 'x' }, 400, 'invalid_request'],
      ['/tenants', { id: 'x', name: 'x' }, 400, 'invalid_request'],
      ['/tenants', { id: slug(), name: 'x', servers: ['nope'] }, 400, 'invalid_request'],
      ['/tenants', { id: slug() }, 400, 'invalid_request'],
      ['/tenants', { id: slug(), name: 'x', extra: true }, 400, 'invalid_request'],
      ['/tenants', { id, name: 'dup' }, 409, 'conflict'],
      [`/tenants/${id}/users`, { email: 'a@b.test', password: 'short', role: 'member' }, 400, 'invalid_request'],
      [`/tenants/${id}/users`, { email: 'a@b.test', password: 'alllowercaseletters', role: 'member' }, 400, 'invalid_request'],
      [`/tenants/${id}/users`, { email: 'a@b.test', password: PASSWORD, role: 'owner' }, 400, 'invalid_request'],
      [`/tenants/${id}/users`, { email: 'not-an-email', password: PASSWORD, role: 'member' }, 400, 'invalid_request'],
      [`/tenants/${slug()}/users`, { email: 'a@b.test', password: PASSWORD, role: 'member' }, 404, 'not_found'],
    ];
    for (const [path, body, status, code] of cases) {
      const res = await adminPost(path, body);
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(status);
      expect(await res.json()).toMatchObject({ error: { code } });
    }
    const dupEmail = { email: `same@${id}.test`, password: PASSWORD, role: 'member' };
    expect((await adminPost(`/tenants/${id}/users`, dupEmail)).status).toBe(201);
    expect((await adminPost(`/tenants/${id}/users`, dupEmail)).status).toBe(409);
    const raw = await SELF.fetch(`${ORIGIN}/admin/api/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
      body: '{"id":',
    });
    expect(raw.status).toBe(400);
    const text = await SELF.fetch(`${ORIGIN}/admin/api/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(text.status).toBe(415);
    const put = await SELF.fetch(`${ORIGIN}/admin/api/tenants`, { method: 'PUT', headers: { authorization: `Bearer ${OPERATOR}` } });
    expect(put.status).toBe(405);
  });
});
