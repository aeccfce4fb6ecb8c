import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SERVERS } from '../../servers/registry';
import { ORIGIN, mcpPost, obtainToken, seedTenant } from './platform-client';

const get = (path: string, init?: RequestInit) => SELF.fetch(`${ORIGIN}${path}`, init);

describe('routing', () => {
  it('answers /health with JSON', async () => {
    const res = await get('/health');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toMatchObject({ status: 'ok', servers: SERVERS.map((s) => s.name) });
  });

  it('matches server paths exactly and answers unknown ones with JSON 404', async () => {
    for (const path of ['/servers/notes', '/servers/notes/', '/servers/notes/mcp/extra', '/servers/notes/mcpx', '/servers//mcp', '/nope']) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toContain('application/json');
    }
    // A name no server can have is a 404 at once; a well-formed unknown name looks like another
    // tenant's upstream (401 until a token says otherwise, see upstream-name-privacy.test.ts).
    const malformed = await get('/servers/Notes_Foo/mcp', { method: 'POST' });
    expect(malformed.status).toBe(404);
    expect(await malformed.json()).toMatchObject({ error: { message: 'Unknown server "Notes_Foo"' } });
    expect((await get('/servers/notesfoo/mcp', { method: 'POST' })).status).toBe(401);
  });

  it('challenges unauthenticated MCP requests with the server-specific resource metadata', async () => {
    for (const { name } of SERVERS) {
      for (const transport of ['mcp', 'sse']) {
        const res = await get(`/servers/${name}/${transport}`, { method: transport === 'mcp' ? 'POST' : 'GET' });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toContain(
          `resource_metadata="${ORIGIN}/.well-known/oauth-protected-resource/servers/${name}/${transport}"`,
        );
      }
    }
  });

  it('rejects a garbage bearer token with 401', async () => {
    const res = await mcpPost('notes', 'not-a-real-token', { jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('invalid_token');
  });
});

describe('discovery documents', () => {
  it('publishes RFC 8414 authorization server metadata with PKCE S256, DCR and every resource', async () => {
    const meta = (await (await get('/.well-known/oauth-authorization-server')).json()) as Record<string, unknown>;
    expect(meta.issuer).toBe(ORIGIN);
    expect(meta.authorization_endpoint).toBe(`${ORIGIN}/authorize`);
    expect(meta.token_endpoint).toBe(`${ORIGIN}/oauth/token`);
    expect(meta.registration_endpoint).toBe(`${ORIGIN}/oauth/register`);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    expect(meta.protected_resources).toEqual(SERVERS.flatMap((s) => [`${ORIGIN}/servers/${s.name}/mcp`, `${ORIGIN}/servers/${s.name}/sse`]));
  });

  it('publishes RFC 9728 protected resource metadata per server endpoint', async () => {
    for (const { name } of SERVERS) {
      const res = await get(`/.well-known/oauth-protected-resource/servers/${name}/mcp`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ resource: `${ORIGIN}/servers/${name}/mcp`, authorization_servers: [ORIGIN], scopes_supported: ['mcp'] });
    }
    // A name no server can have is unknown; a well-formed one may be some tenant's upstream (upstream-name-privacy.test.ts).
    expect((await get('/.well-known/oauth-protected-resource/servers/No_Pe/mcp')).status).toBe(404);
  });
});

describe('bad input on MCP routes', () => {
  it('answers malformed bodies, wrong methods and wrong media types with JSON-RPC errors, never 5xx', async () => {
    const { accounts } = await seedTenant(['notes']);
    const { access_token } = await obtainToken(accounts.member!, 'notes');
    const auth = { authorization: `Bearer ${access_token}`, accept: 'application/json, text/event-stream' };
    const cases: Array<[string, RequestInit, number]> = [
      ['malformed JSON', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"jsonrpc":' }, 400],
      ['not JSON-RPC', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"hello":"world"}' }, 400],
      ['wrong media type', { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'hi' }, 415],
      ['wrong method', { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' }, 405],
      ['GET without session', { method: 'GET', headers: { ...auth } }, 400],
      ['oversized body', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: `{"x":"${'a'.repeat(1024 * 1024 + 10)}"}` }, 413],
      [
        'no session on a call',
        { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' },
        400,
      ],
    ];
    for (const [label, init, status] of cases) {
      const res = await get('/servers/notes/mcp', init);
      expect(res.status, label).toBe(status);
      expect(res.headers.get('content-type'), label).toContain('application/json');
      const body = (await res.json()) as { jsonrpc: string; error: { code: number; message: string } };
      expect(body.jsonrpc, label).toBe('2.0');
      expect(body.error.code, label).toBeTypeOf('number');
      expect(body.error.message.length, label).toBeGreaterThan(0);
    }
  });
});
