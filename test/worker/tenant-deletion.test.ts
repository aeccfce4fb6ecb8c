import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { auditQuery, waitForEvents } from './audit-support';
import { OPERATOR, ORIGIN, PASSWORD, adminCall, adminPost, call, createKey, mcpPost, obtainToken, openSession } from './platform-client';

/**
 * Finding 2 of the security review: deleting a tenant left its data behind, and a tenant created
 * again with the same id read it. Each test fills a tenant through every store, deletes it, creates
 * the id again (with the same user emails) and reads through every path.
 */

const toolCall = (name: string, args: Record<string, unknown> = {}) => ({ name, arguments: args });
const text = (message: any) => String(message?.result?.content?.[0]?.text ?? message?.error?.message ?? '');

async function createTenantWithUsers(id: string, emails: { admin: string; member: string }) {
  expect((await adminPost('/tenants', { id, name: `Tenant ${id}`, servers: ['storage', 'notes'] })).status).toBe(201);
  for (const [role, email] of Object.entries(emails)) {
    expect((await adminPost(`/tenants/${id}/users`, { email, password: PASSWORD, role })).status).toBe(201);
  }
}

async function refresh(refreshToken: string, clientId: string): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
  });
}

describe('deleting a tenant (security review finding 2)', () => {
  it('a tenant created again with the same id starts empty, and nothing of the old one works', async () => {
    const id = `del-${crypto.randomUUID().slice(0, 8)}`;
    const emails = { admin: `boss@${id}.test`, member: `worker@${id}.test` };
    await createTenantWithUsers(id, emails);

    // Fill every store of the first incarnation.
    const oldKey = await createKey(id, 'member');
    const oldAdminKey = await createKey(id, 'admin');
    const tokens = await obtainToken({ email: emails.member, password: PASSWORD }, 'storage');
    expect(tokens.refresh_token).toBeTruthy();
    const session = await openSession('storage', oldKey.key);
    const oauthSession = await openSession('storage', tokens.access_token);
    for (const [name, args] of [
      ['kv_put', { key: 'secret', value: 'old-kv-value' }],
      ['files_put', { path: 'reports/old.txt', content: 'old-file-content' }],
      ['sql_query', { sql: 'CREATE TABLE ledger (v TEXT)' }],
      ['sql_query', { sql: "INSERT INTO ledger VALUES ('old-sql-row')" }],
    ] as const) {
      const res = await call('storage', oldKey.key, session, 'tools/call', toolCall(name, args));
      expect(res.message.result?.isError, `${name}: ${text(res.message)}`).toBeFalsy();
    }
    const upstream = await adminCall('POST', `/tenants/${id}/upstreams`, {
      name: `up-${id}`,
      url: 'https://mcp.example.com/mcp',
      credentials: { kind: 'bearer', token: 'old-upstream-secret' },
    });
    expect(upstream.status).toBe(201);
    const alert = await adminCall('POST', `/tenants/${id}/alerts`, { server: `up-${id}`, metric: 'breaker_open', webhookUrl: 'https://hooks.example.com/old' });
    expect(alert.status).toBe(201);
    await waitForEvents(id, 'action=tools/call', (events) => events.length >= 4);
    // A deployed module's rows (written directly: the sandbox is not what this test is about).
    await env.DB.batch([
      env.DB.prepare("INSERT INTO tenant_servers (tenant_id, name, active_version, created_at, updated_at) VALUES (?, 'mod-old', 1, 0, 0)").bind(id),
      env.DB.prepare(
        "INSERT INTO tenant_server_versions (tenant_id, name, version, source, compiled, sha256, size, tools, created_at) VALUES (?, 'mod-old', 1, 'old-module-source', '', '', 0, '[]', 0)",
      ).bind(id),
    ]);

    // Delete, then create the same id with the same emails.
    const deleted = await SELF.fetch(`${ORIGIN}/admin/api/tenants/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${OPERATOR}` } });
    expect(deleted.status).toBe(204);
    await createTenantWithUsers(id, emails);
    const newKey = await createKey(id, 'member');

    // Every read path of the new tenant is empty.
    const fresh = await openSession('storage', newKey.key);
    const reads = async (name: string, args: Record<string, unknown>) =>
      text((await call('storage', newKey.key, fresh, 'tools/call', toolCall(name, args))).message);
    expect(await reads('kv_get', { key: 'secret' })).toMatch(/No value/);
    expect(JSON.parse(await reads('kv_list', {})).keys).toEqual([]);
    expect(JSON.parse(await reads('files_list', {})).files).toEqual([]);
    expect(await reads('files_get', { path: 'reports/old.txt' })).not.toContain('old-file-content');
    expect(await reads('sql_query', { sql: 'SELECT v FROM ledger' })).toMatch(/no such table/);
    expect((await adminCall('GET', `/tenants/${id}/upstreams`)).body.upstreams).toEqual([]);
    expect((await adminCall('GET', `/tenants/${id}/upstreams/up-${id}`)).status).toBe(404);
    expect((await adminCall('GET', `/tenants/${id}/alerts`)).body.alerts).toEqual([]);
    for (const table of ['upstreams', 'tenant_servers', 'tenant_server_versions']) {
      const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE tenant_id = ?`).bind(id).first<{ n: number }>();
      expect(row!.n, table).toBe(0);
    }

    // The old incarnation's data is gone from the stores too, not only unreachable.
    expect((await env.DATA_KV.list({ prefix: `tenant-${id}:` })).keys).toEqual([]);
    expect((await env.FILES.list({ prefix: `tenant-${id}/` })).objects).toEqual([]);
    const retired = await env.DB.prepare('SELECT generation, purged_at FROM retired_tenants WHERE id = ?')
      .bind(id)
      .first<{ generation: number; purged_at: number | null }>();
    expect(retired).toMatchObject({ generation: 0 });
    expect(retired!.purged_at).not.toBeNull();

    // Old credentials and sessions: refused everywhere.
    expect((await mcpPost('storage', oldKey.key, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, session)).status).toBe(401);
    expect((await mcpPost('storage', tokens.access_token, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, oauthSession)).status).toBe(401);
    expect((await mcpPost('storage', newKey.key, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, session)).status).toBe(404);
    expect((await mcpPost('storage', newKey.key, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, oauthSession)).status).toBe(404);
    expect((await adminCall('GET', `/tenants/${id}/users`, undefined, oldAdminKey.key)).status).toBe(401);
    const refreshed = await refresh(tokens.refresh_token!, tokens.clientId);
    expect(refreshed.status).toBe(400);
    expect(((await refreshed.json()) as { error: string }).error).toBe('invalid_grant');

    // A member of the new tenant signing in with the old email gets the new, empty tenant.
    const newTokens = await obtainToken({ email: emails.member, password: PASSWORD }, 'storage');
    const newOauthSession = await openSession('storage', newTokens.access_token);
    expect(text((await call('storage', newTokens.access_token, newOauthSession, 'tools/call', toolCall('kv_get', { key: 'secret' }))).message)).toMatch(
      /No value/,
    );

    // The audit trail: the operator still sees the old incarnation's events...
    // The old incarnation's session events ship asynchronously: poll the operator's view until they are there.
    const oldCall = (e: any) => e.action === 'tools/call' && e.client === oldKey.id;
    let operator = await auditQuery(`/audit?tenant=${id}&limit=5000`);
    for (let i = 0; i < 120 && !(operator.body.events.some(oldCall) && operator.body.events.some((e: any) => e.action === 'admin.tenant.delete')); i++) {
      await new Promise((r) => setTimeout(r, 250));
      operator = await auditQuery(`/audit?tenant=${id}&limit=5000`);
    }
    expect(operator.body.events.some(oldCall)).toBe(true);
    expect(operator.body.events.some((e: any) => e.action === 'admin.tenant.delete')).toBe(true);
    // ...and, now that they are stored, the new tenant's views show none of them.
    const mine = await auditQuery(`/tenants/${id}/audit?limit=5000`);
    expect(mine.status).toBe(200);
    expect(mine.body.events.filter((e: any) => e.action === 'tools/call' && e.client === oldKey.id)).toEqual([]);
    expect(mine.body.events.filter((e: any) => e.resource === oldKey.id || e.action === 'admin.tenant.delete')).toEqual([]);
    for (const format of ['csv', 'jsonl']) {
      const exported = await SELF.fetch(`${ORIGIN}/admin/api/tenants/${id}/audit?format=${format}&limit=5000`, {
        headers: { authorization: `Bearer ${OPERATOR}` },
      });
      expect(await exported.text()).not.toContain(oldKey.id);
    }
  });

  it('a third incarnation is empty too, and data written by a second one never reaches it', async () => {
    const id = `del-${crypto.randomUUID().slice(0, 8)}`;
    const emails = { admin: `a@${id}.test`, member: `m@${id}.test` };
    for (let generation = 0; generation < 3; generation++) {
      await createTenantWithUsers(id, emails);
      const key = await createKey(id, 'member');
      const session = await openSession('storage', key.key);
      const kv = text((await call('storage', key.key, session, 'tools/call', toolCall('kv_list', {}))).message);
      expect(JSON.parse(kv).keys, `generation ${generation}`).toEqual([]);
      expect(text((await call('storage', key.key, session, 'tools/call', toolCall('sql_query', { sql: 'SELECT v FROM t' }))).message)).toMatch(/no such table/);
      await call('storage', key.key, session, 'tools/call', toolCall('kv_put', { key: `g${generation}`, value: 'x' }));
      await call('storage', key.key, session, 'tools/call', toolCall('sql_query', { sql: 'CREATE TABLE t (v TEXT)' }));
      const gone = await SELF.fetch(`${ORIGIN}/admin/api/tenants/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${OPERATOR}` } });
      expect(gone.status).toBe(204);
    }
    const { results } = await env.DB.prepare('SELECT generation FROM retired_tenants WHERE id = ? ORDER BY generation').bind(id).all<{ generation: number }>();
    expect(results.map((r) => r.generation)).toEqual([0, 1, 2]);
  });

  it('deleting an unknown tenant is a 404 and only the operator may delete', async () => {
    const id = `del-${crypto.randomUUID().slice(0, 8)}`;
    await createTenantWithUsers(id, { admin: `a@${id}.test`, member: `m@${id}.test` });
    const admin = await createKey(id, 'admin');
    expect((await adminCall('DELETE', `/tenants/${id}`, undefined, admin.key)).status).toBe(403);
    expect((await adminCall('DELETE', `/tenants/nobody-${id}`)).status).toBe(404);
    expect((await adminCall('GET', `/tenants/${id}`)).status).toBe(200);
  });
});
