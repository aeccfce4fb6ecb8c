import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { adminCall, call, createKey, mcpPost, openSession, seedTenant, ORIGIN } from './platform-client';
import { SELF } from 'cloudflare:test';
import { TOUCH_INTERVAL_MS, touchApiKey } from '../../src/tenancy/api-keys';

const ping = (key: string, session: string) => mcpPost('notes', key, { jsonrpc: '2.0', id: 1, method: 'ping' }, session);

describe('API keys', () => {
  it('are shown once, stored only as a hash, and listed without secrets', async () => {
    const { id: tenantId } = await seedTenant(['notes']);
    const created = await createKey(tenantId, 'member', { expiresInDays: 30 });
    expect(created.key).toMatch(new RegExp(`^smcp_${tenantId}_[A-Za-z0-9_-]{43}$`));
    const row = await env.DB.prepare('SELECT * FROM api_keys WHERE id = ?').bind(created.id).first<Record<string, unknown>>();
    expect(JSON.stringify(row)).not.toContain(created.key.split('_').pop());
    expect(row!.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    const listed = await adminCall('GET', `/tenants/${tenantId}/keys`);
    expect(listed.body.keys).toHaveLength(1);
    expect(JSON.stringify(listed.body)).not.toContain(created.key);
    expect(listed.body.keys[0]).toMatchObject({ id: created.id, name: 'member key', role: 'member', revokedAt: null });
    expect(listed.body.keys[0].expiresAt).toBeGreaterThan(Date.now() + 29 * 86_400_000);
  });

  it('authenticate MCP requests as a bearer, over Streamable HTTP and SSE, and record last use', async () => {
    const { id: tenantId } = await seedTenant(['notes']);
    const { id, key } = await createKey(tenantId, 'member');
    const session = await openSession('notes', key);
    const added = await call('notes', key, session, 'tools/call', { name: 'add_note', arguments: { title: 'via key' } });
    expect(added.message.result.isError).toBeUndefined();
    const sse = await SELF.fetch(`${ORIGIN}/servers/notes/sse`, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } });
    expect(sse.status).toBe(200);
    const reader = sse.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toMatch(/event: endpoint\ndata: \/servers\/notes\/sse\/message\?sessionId=[0-9a-f]{64}\.[0-9a-f]{32}/);
    await reader.cancel();
    await new Promise((r) => setTimeout(r, 50));
    const listed = await adminCall('GET', `/tenants/${tenantId}/keys`);
    expect(listed.body.keys.find((k: { id: string }) => k.id === id).lastUsedAt).toBeGreaterThan(0);
  });

  it('stop working on the next request once revoked, even inside an open session', async () => {
    const { id: tenantId } = await seedTenant(['notes']);
    const { id, key } = await createKey(tenantId, 'member');
    const session = await openSession('notes', key);
    expect((await ping(key, session)).status).toBe(200);
    expect((await adminCall('DELETE', `/tenants/${tenantId}/keys/${id}`)).status).toBe(204);
    const after = await ping(key, session);
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toContain('invalid_token');
  });

  it('rotate: the new key works, the old one during the grace period only', async () => {
    const { id: tenantId } = await seedTenant(['notes']);
    const old = await createKey(tenantId, 'member');
    const withGrace = await adminCall('POST', `/tenants/${tenantId}/keys/${old.id}/rotate`, {});
    expect(withGrace.status).toBe(201);
    expect(withGrace.body.previous.expiresAt).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    expect(
      (
        await mcpPost('notes', old.key, {
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
        })
      ).status,
    ).toBe(200);
    const fresh = withGrace.body.key as string;
    expect(fresh).not.toBe(old.key);
    await openSession('notes', fresh);
    expect((await adminCall('POST', `/tenants/${tenantId}/keys/${old.id}/rotate`, {})).status).toBe(404);

    const next = await adminCall('POST', `/tenants/${tenantId}/keys/${withGrace.body.id}/rotate`, { graceHours: 0 });
    expect(next.status).toBe(201);
    const dead = await mcpPost('notes', fresh, { jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(dead.status).toBe(401);
  });

  it('refuse malformed, unknown, expired and cross-tenant-forged keys with 401', async () => {
    const a = await seedTenant(['notes']);
    const b = await seedTenant(['notes']);
    const { id, key } = await createKey(a.id, 'member');
    await env.DB.prepare('UPDATE api_keys SET expires_at = ? WHERE id = ?')
      .bind(Date.now() - 1000, id)
      .run();
    const secret = key.split('_').pop()!;
    for (const bad of [key, `smcp_${b.id}_${secret}`, 'smcp_x', `smcp_${a.id}_${'A'.repeat(43)}`, `smcp_${a.id}_${secret}x`]) {
      const res = await mcpPost('notes', bad, { jsonrpc: '2.0', id: 1, method: 'ping' });
      expect(res.status, bad.slice(0, 20)).toBe(401);
    }
  });

  it('see a suspended tenant or a disabled server on the very next request of an open session', async () => {
    const { id: tenantId } = await seedTenant(['notes']);
    const { key } = await createKey(tenantId, 'member');
    const session = await openSession('notes', key);
    expect((await ping(key, session)).status).toBe(200);
    expect((await adminCall('PATCH', `/tenants/${tenantId}`, { status: 'suspended' })).status).toBe(200);
    const suspended = await ping(key, session);
    expect(suspended.status).toBe(403);
    expect(await suspended.json()).toMatchObject({ error: { message: 'Access denied: tenant is suspended' } });
    expect((await adminCall('PATCH', `/tenants/${tenantId}`, { status: 'active', servers: [] })).status).toBe(200);
    const disabled = await ping(key, session);
    expect(disabled.status).toBe(403);
    expect(await disabled.json()).toMatchObject({ error: { message: 'Access denied: server "notes" is not enabled for this tenant' } });
  });

  it('stamp last use at most once a minute per isolate (one D1 write, not one per request)', async () => {
    const { id: tenantId } = await seedTenant(['notes']);
    const { id } = await createKey(tenantId, 'member');
    const lastUsed = async () =>
      (await env.DB.prepare('SELECT last_used_at FROM api_keys WHERE id = ?').bind(id).first<{ last_used_at: number | null }>())!.last_used_at;
    const t0 = 1_900_000_000_000;
    await touchApiKey(env.DB, id, t0);
    expect(await lastUsed()).toBe(t0);
    await touchApiKey(env.DB, id, t0 + TOUCH_INTERVAL_MS - 1);
    expect(await lastUsed()).toBe(t0);
    await touchApiKey(env.DB, id, t0 + TOUCH_INTERVAL_MS);
    expect(await lastUsed()).toBe(t0 + TOUCH_INTERVAL_MS);
  });
});
