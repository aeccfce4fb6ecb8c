import { env, SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { ORIGIN, adminCall, call, createKey, mcpPost, obtainToken, openSession, seedTenant } from './platform-client';

/**
 * Broken-access-control suite (OWASP A01 style): two tenants with every role as users and as API
 * keys; every cross-tenant and cross-role attempt must be refused, and every allowed path must
 * work. Attempts are counted and the count printed.
 */

type Role = 'admin' | 'member' | 'read-only';
const ROLES: Role[] = ['admin', 'member', 'read-only'];

interface World {
  id: string;
  keys: Record<Role, { id: string; key: string }>;
  tokens: Record<Role, string>;
  userIds: Record<Role, string>;
  session: string;
}

let A: World;
let B: World;
let refused = 0;
let allowed = 0;

async function world(servers: string[]): Promise<World> {
  const t = await seedTenant(servers, ROLES);
  const keys = {} as World['keys'];
  const tokens = {} as World['tokens'];
  for (const role of ROLES) {
    keys[role] = await createKey(t.id, role);
    tokens[role] = (await obtainToken(t.accounts[role]!, 'notes')).access_token;
  }
  const users = (await adminCall('GET', `/tenants/${t.id}/users`)).body.users as Array<{ id: string; role: Role }>;
  const userIds = Object.fromEntries(users.map((u) => [u.role, u.id])) as World['userIds'];
  return { id: t.id, keys, tokens, userIds, session: await openSession('notes', keys.member.key) };
}

function expectRefused(label: string, status: number, allowedStatuses: number[]) {
  expect(allowedStatuses, label).toContain(status);
  refused++;
}

beforeAll(async () => {
  A = await world(['notes']);
  B = await world(['notes', 'everything']);
});

describe('isolation between tenants and roles', () => {
  it('admin API: a tenant admin sees another tenant exactly like a tenant that does not exist', async () => {
    const asA = A.keys.admin.key;
    const paths: Array<[string, string, unknown?]> = [
      ['GET', `/tenants/${B.id}`],
      ['PATCH', `/tenants/${B.id}`, { name: 'pwned' }],
      ['DELETE', `/tenants/${B.id}`],
      ['POST', `/tenants/${B.id}/users`, { email: 'x@evil.test', password: 'Correct-Horse-Battery-9', role: 'admin' }],
      ['GET', `/tenants/${B.id}/users`],
      ['PATCH', `/tenants/${B.id}/users/${B.userIds.admin}`, { role: 'read-only' }],
      ['DELETE', `/tenants/${B.id}/users/${B.userIds.member}`],
      ['POST', `/tenants/${B.id}/keys`, { name: 'evil', role: 'admin' }],
      ['GET', `/tenants/${B.id}/keys`],
      ['DELETE', `/tenants/${B.id}/keys/${B.keys.member.id}`],
      ['POST', `/tenants/${B.id}/keys/${B.keys.member.id}/rotate`, {}],
    ];
    for (const [method, path, body] of paths) {
      const other = await adminCall(method, path, body, asA);
      const missing = await adminCall(method, path.replace(B.id, 'no-such-tenant'), body, asA);
      expectRefused(`${method} ${path}`, other.status, [404]);
      expect(other.body, `${method} ${path} must look like a missing tenant`).toEqual(missing.body);
    }
    // Another tenant's user and key ids inside one's own tenant are "not found" too.
    for (const [method, path, body] of [
      ['PATCH', `/tenants/${A.id}/users/${B.userIds.admin}`, { role: 'read-only' }],
      ['DELETE', `/tenants/${A.id}/users/${B.userIds.admin}`],
      ['DELETE', `/tenants/${A.id}/keys/${B.keys.admin.id}`],
      ['POST', `/tenants/${A.id}/keys/${B.keys.admin.id}/rotate`, {}],
    ] as Array<[string, string, unknown?]>) {
      expectRefused(`${method} ${path}`, (await adminCall(method, path, body, asA)).status, [404]);
    }
    // B is untouched.
    expect((await adminCall('GET', `/tenants/${B.id}`)).body.name).toBe(`Tenant ${B.id}`);
    expect((await adminCall('GET', `/tenants/${B.id}/keys`)).body.keys.every((k: { revokedAt: null }) => k.revokedAt === null)).toBe(true);
  });

  it('admin API: non-admin keys, user tokens and outsiders are refused; operator-only actions stay operator-only', async () => {
    for (const role of ['member', 'read-only'] as const) {
      for (const [method, path] of [
        ['GET', `/tenants/${A.id}/users`],
        ['POST', `/tenants/${A.id}/keys`],
        ['GET', `/tenants/${A.id}`],
      ]) {
        expectRefused(
          `${role} ${method} ${path}`,
          (await adminCall(method!, path!, method === 'POST' ? { name: 'x', role: 'admin' } : undefined, A.keys[role].key)).status,
          [403],
        );
      }
    }
    for (const bearer of [A.tokens.admin, 'nonsense', '', `smcp_${A.id}_${'x'.repeat(43)}`]) {
      expectRefused(`bearer ${bearer.slice(0, 8)}`, (await adminCall('GET', `/tenants/${A.id}`, undefined, bearer)).status, [401]);
    }
    const asA = A.keys.admin.key;
    for (const [method, path, body] of [
      ['POST', '/tenants', { id: 'evil-corp', name: 'Evil' }],
      ['GET', '/tenants'],
      ['DELETE', `/tenants/${A.id}`],
      ['PATCH', `/tenants/${A.id}`, { status: 'active' }],
      ['PATCH', `/tenants/${A.id}`, { servers: ['notes', 'everything'] }],
    ] as Array<[string, string, unknown?]>) {
      expectRefused(`tenant admin ${method} ${path}`, (await adminCall(method, path, body, asA)).status, [403]);
    }
  });

  it('MCP: servers not enabled, tools beyond the role, other sessions, revoked and rotated keys, other servers’ tokens', async () => {
    // Server not enabled for A, with every credential A has.
    for (const role of ROLES) {
      expectRefused(`A ${role} key on everything`, (await mcpPost('everything', A.keys[role].key, { jsonrpc: '2.0', id: 1, method: 'ping' })).status, [403]);
    }
    // Tools beyond the role: read-only key and read-only user.
    for (const cred of [A.keys['read-only'].key, A.tokens['read-only']]) {
      const s = await openSession('notes', cred);
      for (const tool of ['add_note', 'delete_note']) {
        const r = await call('notes', cred, s, 'tools/call', { name: tool, arguments: tool === 'add_note' ? { title: 'x' } : { id: 1 } });
        expect(r.message.error?.code, tool).toBe(-32003);
        refused++;
      }
    }
    // Another tenant's (or another principal's) session id, with every credential.
    for (const cred of [...ROLES.map((r) => B.keys[r].key), ...ROLES.map((r) => B.tokens[r]), A.keys.admin.key, A.tokens.member]) {
      expectRefused(
        'foreign session',
        (await mcpPost('notes', cred, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_notes', arguments: {} } }, A.session)).status,
        [404],
      );
    }
    // Legacy SSE: another principal can neither post into nor reattach to A's SSE session.
    const sse = await SELF.fetch(`${ORIGIN}/servers/notes/sse`, { headers: { authorization: `Bearer ${A.keys.member.key}`, accept: 'text/event-stream' } });
    const reader = sse.body!.getReader();
    const endpoint = /data: (\S+)/.exec(new TextDecoder().decode((await reader.read()).value))![1]!;
    const foreign = { authorization: `Bearer ${B.keys.admin.key}`, 'content-type': 'application/json' };
    const post = await SELF.fetch(`${ORIGIN}${endpoint}`, {
      method: 'POST',
      headers: foreign,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expectRefused('post into foreign SSE session', post.status, [404]);
    const reattach = await SELF.fetch(`${ORIGIN}/servers/notes/sse?${endpoint.split('?')[1]}`, { headers: { ...foreign, accept: 'text/event-stream' } });
    expectRefused('reattach to foreign SSE session', reattach.status, [404]);
    await reader.cancel();
    // A token for notes/mcp is not valid at everything/mcp or notes/sse.
    const bToken = B.tokens.member;
    expectRefused('token at other server', (await mcpPost('everything', bToken, { jsonrpc: '2.0', id: 1, method: 'ping' })).status, [401]);
    // Revoked and rotated-out keys.
    const spare = await createKey(A.id, 'member');
    await adminCall('DELETE', `/tenants/${A.id}/keys/${spare.id}`);
    expectRefused('revoked key', (await mcpPost('notes', spare.key, { jsonrpc: '2.0', id: 1, method: 'ping' })).status, [401]);
    const rotating = await createKey(A.id, 'member');
    await adminCall('POST', `/tenants/${A.id}/keys/${rotating.id}/rotate`, { graceHours: 0 });
    expectRefused('rotated-out key', (await mcpPost('notes', rotating.key, { jsonrpc: '2.0', id: 1, method: 'ping' })).status, [401]);
  });

  it('every allowed path works', async () => {
    const asA = A.keys.admin.key;
    for (const [method, path, body, status] of [
      ['GET', `/tenants/${A.id}`, undefined, 200],
      ['PATCH', `/tenants/${A.id}`, { name: 'Renamed A' }, 200],
      ['GET', `/tenants/${A.id}/users`, undefined, 200],
      ['GET', `/tenants/${A.id}/keys`, undefined, 200],
      ['POST', `/tenants/${A.id}/keys`, { name: 'ci', role: 'read-only' }, 201],
      ['PATCH', `/tenants/${A.id}/users/${A.userIds['read-only']}`, { role: 'member' }, 200],
    ] as Array<[string, string, unknown, number]>) {
      expect((await adminCall(method, path, body, asA)).status, `${method} ${path}`).toBe(status);
      allowed++;
    }
    for (const role of ROLES) {
      const s = await openSession('notes', A.keys[role].key);
      const list = await call('notes', A.keys[role].key, s, 'tools/call', { name: 'list_notes', arguments: {} });
      expect(list.message.result, role).toBeDefined();
      allowed++;
    }
    const member = await call('notes', A.keys.member.key, A.session, 'tools/call', { name: 'add_note', arguments: { title: 'allowed' } });
    expect(member.message.result.isError).toBeUndefined();
    allowed++;
    const everything = await openSession('everything', B.keys.member.key);
    expect((await call('everything', B.keys.member.key, everything, 'tools/call', { name: 'test_simple_text', arguments: {} })).message.result).toBeDefined();
    allowed++;
    expect((await adminCall('GET', '/tenants')).body.tenants.map((t: { id: string }) => t.id)).toEqual(expect.arrayContaining([A.id, B.id]));
    allowed++;
    const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ?').bind(B.id).first<{ n: number }>();
    expect(row!.n).toBe(3); // nothing A did created or removed B's keys
    console.log(`isolation suite: ${refused} cross-tenant and cross-role attempts refused, ${allowed} allowed paths worked`);
    expect(refused).toBe(50);
  });
});
