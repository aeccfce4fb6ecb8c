import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { keyringFrom, open } from '../../src/crypto/sealed-secrets';
import { ORIGIN, adminCall, createKey, mcpPost, obtainToken, openSession, seedTenant } from './platform-client';

// Worker tests run without SMCP_ALLOW_PRIVATE_UPSTREAMS: production URL rules apply.

const uniqueName = () => `up-${crypto.randomUUID().slice(0, 8)}`;
const register = (tenant: string, body: Record<string, unknown>, bearer?: string) => adminCall('POST', `/tenants/${tenant}/upstreams`, body, bearer);

describe('upstream registration (admin API)', () => {
  it('refuses private, loopback and non-HTTPS upstream URLs in production, and accepts public HTTPS', async () => {
    const { id } = await seedTenant([]);
    const refused = [
      'http://127.0.0.1:8080/mcp',
      'https://127.0.0.1/mcp',
      'https://localhost/mcp',
      'https://api.localhost/mcp',
      'https://10.1.2.3/mcp',
      'https://172.20.0.1/mcp',
      'https://192.168.1.1/mcp',
      'https://169.254.169.254/latest',
      'https://[::1]/mcp',
      'https://[fd00::1]/mcp',
      'https://[::ffff:127.0.0.1]/mcp',
      'https://2130706433/mcp',
      'https://0x7f.1/mcp',
      'https://db.internal/mcp',
      'https://printer/mcp',
      'http://mcp.example.com/mcp',
      'https://user:pass@mcp.example.com/mcp',
      'ftp://mcp.example.com/',
    ];
    for (const url of refused) {
      const res = await register(id, { name: uniqueName(), url });
      expect(res.status, url).toBe(400);
      expect(res.body.error.code, url).toMatch(/url_refused|invalid_request/);
    }
    const oauthToPrivate = await register(id, {
      name: uniqueName(),
      url: 'https://mcp.example.com/mcp',
      credentials: { kind: 'oauth-client-credentials', tokenUrl: 'https://10.0.0.5/token', clientId: 'c', clientSecret: 's' },
    });
    expect(oauthToPrivate.status).toBe(400);
    expect(oauthToPrivate.body.error.message).toContain('tokenUrl');
    expect((await register(id, { name: uniqueName(), url: 'https://mcp.example.com/mcp' })).status).toBe(201);
  });

  it('refuses a hosted server name, a duplicate, and malformed policies', async () => {
    const { id } = await seedTenant([]);
    expect((await register(id, { name: 'notes', url: 'https://mcp.example.com/mcp' })).status).toBe(409);
    const name = uniqueName();
    expect((await register(id, { name, url: 'https://mcp.example.com/mcp' })).status).toBe(201);
    expect((await register(id, { name, url: 'https://mcp.example.com/mcp' })).status).toBe(409);
    expect((await register(id, { name: uniqueName(), url: 'https://mcp.example.com/mcp', policy: { allow: ['a'], deny: ['b'] } })).status).toBe(400);
    expect((await register(id, { name: 'Bad Name', url: 'https://mcp.example.com/mcp' })).status).toBe(400);
    expect((await register(id, { name: uniqueName(), url: 'https://mcp.example.com/mcp', settings: { requestTimeoutMs: 10_000_000 } })).status).toBe(400);
    expect(
      (await register(id, { name: uniqueName(), url: 'https://mcp.example.com/mcp', credentials: { kind: 'header', name: 'Host', value: 'x' } })).status,
    ).toBe(400);
  });

  it('seals credentials in D1 (bound to tenant and name) and never returns them', async () => {
    const { id } = await seedTenant([]);
    const name = uniqueName();
    const created = await register(id, {
      name,
      url: 'https://mcp.example.com/mcp',
      credentials: { kind: 'header', name: 'X-Api-Key', value: 'very-secret-value-42' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ hasCredentials: true, credentialKind: 'header' });
    for (const res of [created, await adminCall('GET', `/tenants/${id}/upstreams`), await adminCall('GET', `/tenants/${id}/upstreams/${name}`)]) {
      expect(JSON.stringify(res.body)).not.toContain('very-secret-value-42');
      expect(JSON.stringify(res.body)).not.toContain('X-Api-Key');
    }
    const row = await env.DB.prepare('SELECT credentials FROM upstreams WHERE tenant_id = ? AND name = ?').bind(id, name).first<{ credentials: string }>();
    expect(row!.credentials).toMatch(/^v1\.k1\./);
    expect(row!.credentials).not.toContain('very-secret');
    const ring = await keyringFrom(env as unknown as Env);
    expect(JSON.parse(await open(ring, row!.credentials, `upstream:${id}:${name}`))).toEqual({
      kind: 'header',
      name: 'X-Api-Key',
      value: 'very-secret-value-42',
    });
    await expect(open(ring, row!.credentials, `upstream:other-tenant:${name}`)).rejects.toThrow();

    const cleared = await adminCall('PATCH', `/tenants/${id}/upstreams/${name}`, { credentials: null });
    expect(cleared.body).toMatchObject({ hasCredentials: false, credentialKind: 'none', version: 2 });
    expect((await env.DB.prepare('SELECT credentials FROM upstreams WHERE tenant_id = ? AND name = ?').bind(id, name).first())!.credentials).toBeNull();
  });

  it('lets a tenant admin manage its own upstreams only, and the operator rotate sealed secrets', async () => {
    const a = await seedTenant([]);
    const b = await seedTenant([]);
    const adminA = (await createKey(a.id, 'admin')).key;
    const name = uniqueName();
    expect((await register(a.id, { name, url: 'https://mcp.example.com/mcp', credentials: { kind: 'bearer', token: 'tok' } }, adminA)).status).toBe(201);
    expect((await adminCall('GET', `/tenants/${b.id}/upstreams`, undefined, adminA)).status).toBe(404);
    expect((await adminCall('POST', '/secrets/rotate', undefined, adminA)).status).toBe(403);
    const rotated = await adminCall('POST', '/secrets/rotate');
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ currentKey: 'k1', resealed: 0, failed: [] });
    expect(rotated.body.alreadyCurrent).toBeGreaterThanOrEqual(1);
    expect((await adminCall('DELETE', `/tenants/${a.id}/upstreams/${name}`, undefined, adminA)).status).toBe(204);
    expect((await adminCall('DELETE', `/tenants/${a.id}/upstreams/${name}`, undefined, adminA)).status).toBe(404);
  });
});

describe('upstream MCP routes', () => {
  it("challenges with the upstream resource metadata, and hides other tenants' upstreams", async () => {
    // An unregistered name is challenged exactly like a registered one (upstream-name-privacy.test.ts).
    const unknown = await SELF.fetch(`${ORIGIN}/servers/${uniqueName()}/mcp`, { method: 'POST' });
    expect(unknown.status).toBe(401);

    const a = await seedTenant([], ['member']);
    const b = await seedTenant([]);
    const name = uniqueName();
    expect((await register(a.id, { name, url: 'https://mcp.example.com/mcp' })).status).toBe(201);
    const challenge = await SELF.fetch(`${ORIGIN}/servers/${name}/mcp`, { method: 'POST' });
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toContain(`resource_metadata="${ORIGIN}/.well-known/oauth-protected-resource/servers/${name}/mcp"`);
    const meta = await SELF.fetch(`${ORIGIN}/.well-known/oauth-protected-resource/servers/${name}/mcp`);
    expect(await meta.json()).toMatchObject({ resource: `${ORIGIN}/servers/${name}/mcp` });

    const keyB = (await createKey(b.id, 'member')).key;
    const foreign = await mcpPost(name, keyB, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toMatchObject({ error: { message: `Unknown server "${name}"` } });

    // OAuth works for upstreams too, and the token is bound to that one upstream.
    const { access_token } = await obtainToken(a.accounts.member!, name);
    expect(await openSession(name, access_token)).toBeTruthy();
    expect((await mcpPost('notes', access_token, { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(401);

    const disabled = await adminCall('PATCH', `/tenants/${a.id}/upstreams/${name}`, { enabled: false });
    expect(disabled.body.enabled).toBe(false);
    expect((await mcpPost(name, access_token, { jsonrpc: '2.0', id: 1, method: 'ping' })).status).toBe(404);
  });

  it('reports gateway counts in /health without tenant data', async () => {
    const health = (await (await SELF.fetch(`${ORIGIN}/health`)).json()) as { gateway: Record<string, unknown> };
    expect(health.gateway).toMatchObject({
      secretsAtRest: 'configured',
      breakers: { closed: expect.any(Number), open: expect.any(Number), 'half-open': expect.any(Number) },
    });
    expect(JSON.stringify(health)).not.toMatch(/t-[0-9a-f]{8}/);
  });
});
