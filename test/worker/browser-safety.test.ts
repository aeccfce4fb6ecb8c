import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createKey, mcpPost, ORIGIN, rpcMessages, seedTenant } from './platform-client';

// The worker project allows one extra origin: SMCP_ALLOWED_ORIGINS=http://inspector.test:6274.
const INSPECTOR = 'http://inspector.test:6274';
const EVIL = 'http://evil.test';
const INIT = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cors-test', version: '1' } },
};

function preflight(path: string, origin: string) {
  return SELF.fetch(`${ORIGIN}${path}`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, mcp-session-id' },
  });
}

describe('CORS on MCP routes (only for allowed origins)', () => {
  it('answers preflights from the public origin and SMCP_ALLOWED_ORIGINS, and refuses others without CORS headers', async () => {
    for (const origin of [ORIGIN, INSPECTOR]) {
      const res = await preflight('/servers/notes/mcp', origin);
      expect(res.status, origin).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('access-control-allow-methods')).toContain('POST');
      expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('mcp-session-id');
    }
    for (const origin of [EVIL, 'null', 'http://localhost:8787.evil.test']) {
      const res = await preflight('/servers/notes/mcp', origin);
      expect(res.status, origin).toBe(403);
      expect(res.headers.get('access-control-allow-origin'), origin).toBeNull();
      expect(res.headers.get('access-control-allow-methods'), origin).toBeNull();
    }
  });

  it('exposes Mcp-Session-Id, Mcp-Protocol-Version and WWW-Authenticate to allowed origins only', async () => {
    const { id } = await seedTenant(['notes']);
    const { key } = await createKey(id, 'member');
    const res = await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
      method: 'POST',
      headers: { origin: INSPECTOR, authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(INIT),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(INSPECTOR);
    const exposed = res.headers.get('access-control-expose-headers')!.toLowerCase();
    for (const h of ['mcp-session-id', 'mcp-protocol-version', 'www-authenticate']) expect(exposed).toContain(h);
    await rpcMessages(res);

    const challenge = await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
      method: 'POST',
      headers: { origin: INSPECTOR, 'content-type': 'application/json' },
      body: JSON.stringify(INIT),
    });
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toContain('resource_metadata=');
    expect(challenge.headers.get('access-control-allow-origin')).toBe(INSPECTOR);

    const plain = await mcpPost('notes', key, INIT);
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    await rpcMessages(plain);
  });

  it('refuses actual requests from a disallowed Origin before authentication, with no CORS headers', async () => {
    const { id } = await seedTenant(['notes']);
    const { key } = await createKey(id, 'member');
    const res = await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
      method: 'POST',
      headers: { origin: EVIL, authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(INIT),
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(((await res.json()) as any).error.message).toMatch(/Origin/);
  });

  it('gives protected-resource metadata CORS headers for allowed origins only', async () => {
    const path = '/.well-known/oauth-protected-resource/servers/notes/mcp';
    const allowed = await SELF.fetch(`${ORIGIN}${path}`, { headers: { origin: INSPECTOR } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(INSPECTOR);
    const foreign = await SELF.fetch(`${ORIGIN}${path}`, { headers: { origin: EVIL } });
    expect(foreign.status).toBe(200);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight(path, INSPECTOR)).headers.get('access-control-allow-origin')).toBe(INSPECTOR);
    expect((await preflight(path, EVIL)).headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('Host allowlist (DNS rebinding)', () => {
  it('refuses a foreign Host header on MCP routes and preflights, before authentication', async () => {
    for (const method of ['POST', 'OPTIONS']) {
      const res = await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
        method,
        headers: { host: 'attacker.test:8787', 'content-type': 'application/json', origin: ORIGIN },
        body: method === 'POST' ? '{}' : undefined,
      });
      expect(res.status, method).toBe(403);
      expect(res.headers.get('access-control-allow-origin'), method).toBeNull();
    }
  });
});
