import { env, listDurableObjectIds } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { auditQuery, waitForEvents } from './audit-support';
import { MODERN, modernCall, textOf } from './modern-client';
import { adminCall, createKey, obtainToken, openSession, seedTenant } from './platform-client';

/**
 * Attacks in the MCP 2026-07-28 (stateless) lane, through the real Worker: the same gate as the
 * 2025 lane (audience per server endpoint, API keys, roles, tenant isolation), handles bound to
 * (tenant, principal, server), a signed, caller- and operation-bound, single-use `requestState`,
 * and the revision's own refusals (-32020 header/body disagreement, -32022 unsupported version).
 * Every refusal is audited exactly once; N modern calls are N audit events with the era recorded.
 */

type ModernOptions = { headers?: Record<string, string>; meta?: Record<string, unknown> };

/** One stateless request (declaring elicitation, so multi-round-trip tools may ask); `meta` overrides envelope keys. */
async function modern(server: string, token: string | null, method: string, params: Record<string, unknown> = {}, opts: ModernOptions = {}) {
  const { status, message, response } = await modernCall(server, token, method, opts.meta ? { ...params, _meta: opts.meta } : params, {
    capabilities: { elicitation: {} },
    headers: opts.headers,
  });
  return { status, message, headers: response.headers };
}
const modernTool = (
  server: string,
  token: string | null,
  name: string,
  args: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
  opts: ModernOptions = {},
) => modern(server, token, 'tools/call', { name, arguments: args, ...extra }, opts);
const resultJson = (message: any) => JSON.parse(textOf(message));

/** Wait for events matching `query`, then a little longer, and require exactly `n` of them (no late duplicates). */
async function exactly(tenant: string, query: string, n: number, filter: (e: any) => boolean = () => true): Promise<any[]> {
  await waitForEvents(tenant, query, (events) => events.filter(filter).length >= n);
  await new Promise((r) => setTimeout(r, 1500));
  const events = (await auditQuery(`/tenants/${tenant}/audit?limit=5000&${query}`)).body.events.filter(filter);
  expect(events, JSON.stringify(events)).toHaveLength(n);
  return events;
}

/**
 * Denied events of the platform-wide (operator) trail since `since` for one MCP path: waits until
 * `n` are there, then a little longer, and requires exactly `n`.
 */
async function platformDenials(since: number, path: string, n: number, timeoutMs = 30_000): Promise<any[]> {
  const matching = async () => ((await auditQuery(`/audit?result=denied&from=${since}&limit=5000`)).body.events as any[]).filter((e) => e.resource === path);
  const deadline = Date.now() + timeoutMs;
  while ((await matching()).length < n) {
    if (Date.now() > deadline) throw new Error(`fewer than ${n} denied events for ${path} since ${since}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  await new Promise((r) => setTimeout(r, 1500));
  const events = await matching();
  expect(events, JSON.stringify(events)).toHaveLength(n);
  return events;
}

/** The era an audit event records. */
const eraOf = (e: any) => e.details?.era;

const INPUT_TOOL = 'test_input_required_result_request_state';
const accept = { action: 'accept', content: { ok: true } };

/** Round 1 of the multi-round-trip fixture: an input_required result with a requestState. */
async function firstRound(token: string) {
  const round = await modernTool('everything', token, INPUT_TOOL);
  expect(round.status).toBe(200);
  expect(round.message.result?.resultType, JSON.stringify(round.message)).toBe('input_required');
  const key = Object.keys(round.message.result.inputRequests)[0]!;
  return { requestState: round.message.result.requestState as string, inputResponses: { [key]: accept } };
}

describe('modern lane: the gate is the same as the 2025 lane', () => {
  it('refuses a token issued for one server at another (401 naming that server, audited once each), and a request without a token (401 with WWW-Authenticate)', async () => {
    const t = await seedTenant(['notes', 'everything']);
    const notesToken = (await obtainToken(t.accounts.member!, 'notes')).access_token;
    const sseToken = (await obtainToken(t.accounts.member!, 'everything', 'sse')).access_token;
    const since = Date.now();

    for (const [server, token] of [
      ['everything', notesToken],
      ['everything', sseToken],
      ['notes', null],
    ] as const) {
      const res = await modern(server, token, 'tools/list');
      expect(res.status, `${server} with ${token ? 'a foreign token' : 'no token'}`).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain(`/.well-known/oauth-protected-resource/servers/${server}/mcp`);
      expect(res.headers.get('mcp-session-id')).toBeNull();
    }
    // Each token refusal is one denied event in the platform-wide trail (the token names no tenant here).
    const denied = await platformDenials(since, '/servers/everything/mcp', 2);
    expect(denied.map((e) => e.action)).toEqual(['auth.token', 'auth.token']);
    // The right token for the right endpoint works.
    expect((await modern('notes', notesToken, 'tools/list')).status).toBe(200);
  });

  // Issue 14 "requests without a token: all refused, all audited": the provider answers the 401
  // before any token validation, so the router records it (oauth-surface.ts, auditMissingToken).
  it('audits a modern request without a token once (platform-wide trail, no tenant)', async () => {
    const since = Date.now();
    expect((await modern('storage', null, 'tools/list')).status).toBe(401);
    await platformDenials(since, '/servers/storage/mcp', 1, 8_000);
  });

  it('a read-only key sees only read-only tools in tools/list and is refused a write tool, audited once with the era', async () => {
    const t = await seedTenant(['storage']);
    const reader = await createKey(t.id, 'read-only');
    const listed = await modern('storage', reader.key, 'tools/list');
    expect(listed.status).toBe(200);
    const names = listed.message.result.tools.map((x: { name: string }) => x.name);
    expect(names).toEqual(expect.arrayContaining(['kv_get', 'kv_list']));
    expect(names).not.toContain('kv_put');
    expect(names).not.toContain('kv_delete');

    const write = await modernTool('storage', reader.key, 'kv_put', { key: 'k', value: 'v' });
    const refused = write.message.error ?? (write.message.result?.isError ? write.message.result : undefined);
    expect(refused, JSON.stringify(write.message)).toBeDefined();
    expect(JSON.stringify(refused)).toMatch(/permission|denied|role/i);
    // Nothing was written.
    const writer = await createKey(t.id, 'member');
    const read = await modernTool('storage', writer.key, 'kv_get', { key: 'k' });
    expect(read.message.result?.isError).toBe(true);

    const events = await exactly(t.id, 'action=tools/call&result=denied', 1);
    expect(events[0]).toMatchObject({ server: 'storage', resource: 'kv_put', user: `key:${reader.id}` });
    expect(eraOf(events[0])).toBe(MODERN);
  });

  it('a suspended tenant and a server the tenant has not enabled are refused in the modern lane too', async () => {
    const t = await seedTenant(['notes']);
    const key = await createKey(t.id, 'member');
    expect((await modern('everything', key.key, 'tools/list')).status).toBe(403);
    expect((await adminCall('PATCH', `/tenants/${t.id}`, { status: 'suspended' })).status).toBe(200);
    expect((await modern('notes', key.key, 'tools/list')).status).toBe(403);
  });
});

describe("modern lane: the revision's own refusals", () => {
  it('answers -32020 (HTTP 400) when the headers and the body disagree, keeping the request id', async () => {
    const t = await seedTenant(['everything']);
    const { key } = await createKey(t.id, 'member');
    const cases: Array<{ what: string; opts: ModernOptions }> = [
      { what: 'version header vs _meta', opts: { meta: { 'io.modelcontextprotocol/protocolVersion': '2025-11-25' } } },
      { what: 'Mcp-Method vs method', opts: { headers: { 'mcp-method': 'tools/list' } } },
      { what: 'Mcp-Name vs name', opts: { headers: { 'mcp-name': 'test_error_handling' } } },
    ];
    for (const c of cases) {
      const res = await modernTool('everything', key, 'test_simple_text', {}, {}, c.opts);
      expect(res.status, c.what).toBe(400);
      expect(res.message.error?.code, `${c.what}: ${JSON.stringify(res.message)}`).toBe(-32020);
      expect(res.message.id, c.what).toEqual(expect.any(Number));
    }
  });

  it('answers -32022 (HTTP 400) naming the supported versions to an unsupported revision', async () => {
    const t = await seedTenant(['everything']);
    const { key } = await createKey(t.id, 'member');
    const res = await modern(
      'everything',
      key,
      'server/discover',
      {},
      { headers: { 'mcp-protocol-version': '2099-01-01' }, meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } },
    );
    expect(res.status).toBe(400);
    expect(res.message.error?.code, JSON.stringify(res.message)).toBe(-32022);
    expect(JSON.stringify(res.message.error.data)).toContain(MODERN);
  });

  // Issue 14: every refusal audited once. The SDK answers these before any handler; the lane records
  // each such wire-level rejection once (result `error`, the era in details).
  it('audits a -32020 and a -32022 refusal once each in the tenant trail', async () => {
    const t = await seedTenant(['everything']);
    const { key } = await createKey(t.id, 'member');
    expect((await modernTool('everything', key, 'test_simple_text', {}, {}, { headers: { 'mcp-method': 'tools/list' } })).message.error?.code).toBe(-32020);
    const unsupported = { headers: { 'mcp-protocol-version': '2099-01-01' }, meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } };
    expect((await modern('everything', key, 'server/discover', {}, unsupported)).message.error?.code).toBe(-32022);
    const deadline = Date.now() + 8_000;
    const refusals = async () => ((await auditQuery(`/tenants/${t.id}/audit?limit=100`)).body.events as any[]).filter((e) => !e.action.startsWith('admin.'));
    while ((await refusals()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    await new Promise((r) => setTimeout(r, 1500));
    const events = await refusals();
    expect(events.map((e) => [e.action, e.details?.code]).sort(), JSON.stringify(events)).toEqual([
      ['server/discover', -32022],
      ['tools/call', -32020],
    ]);
    for (const e of events) expect(eraOf(e)).toBe(MODERN);
  });

  it('a modern request never creates a session object, and initialize never offers 2026-07-28', async () => {
    const t = await seedTenant(['notes', 'everything', 'storage']);
    const { key } = await createKey(t.id, 'member');
    const count = async () => [
      (await listDurableObjectIds(env.NOTES_SERVER)).length,
      (await listDurableObjectIds(env.EVERYTHING_SERVER)).length,
      (await listDurableObjectIds(env.STORAGE_SERVER)).length,
    ];
    const before = await count();
    for (const server of ['notes', 'everything', 'storage']) {
      const discover = await modern(server, key, 'server/discover');
      expect(discover.status).toBe(200);
      expect(discover.message.result.supportedVersions).toContain(MODERN);
      expect(discover.headers.get('mcp-session-id')).toBeNull();
      expect((await modern(server, key, 'tools/list')).headers.get('mcp-session-id')).toBeNull();
    }
    expect((await modernTool('everything', key, 'test_simple_text')).message.result.content.length).toBeGreaterThan(0);
    expect((await modernTool('storage', key, 'kv_list')).status).toBe(200);
    expect(await count()).toEqual(before);

    // The 2025 lane on the same URL still opens its session, and its initialize offers a 2025 revision.
    const session = await openSession('everything', key);
    expect(session).toBeTruthy();
    expect((await listDurableObjectIds(env.EVERYTHING_SERVER)).length).toBe(before[1]! + 1);
  });
});

describe('modern lane: requestState is signed, bound to the caller and the operation, and single-use', () => {
  it('completes with the echoed state, then refuses a tampered, replayed, foreign or re-targeted one; each refusal audited once', async () => {
    const t = await seedTenant(['everything'], ['member', 'admin']);
    const a = await createKey(t.id, 'member');
    const b = await createKey(t.id, 'member');

    const good = await firstRound(a.key);
    const done = await modernTool('everything', a.key, INPUT_TOOL, {}, good);
    expect(done.message.result?.resultType ?? 'complete', JSON.stringify(done.message)).toBe('complete');
    expect(JSON.stringify(done.message.result.content)).toContain('state-ok');

    const replay = await modernTool('everything', a.key, INPUT_TOOL, {}, good);
    expect(replay.message.error, `replayed: ${JSON.stringify(replay.message)}`).toBeDefined();

    const fresh = await firstRound(a.key);
    const s = fresh.requestState;
    const flipped = `${s.slice(0, -2)}${s.at(-2) === 'A' ? 'B' : 'A'}${s.at(-1)}`;
    for (const [what, requestState] of [
      ['suffix', `${s}-TAMPERED`],
      ['one character', flipped],
      ['truncated', s.slice(0, -4)],
      ['empty', ''],
    ] as const) {
      const res = await modernTool('everything', a.key, INPUT_TOOL, {}, { ...fresh, requestState });
      expect(res.message.error, `tampered (${what}): ${JSON.stringify(res.message)}`).toBeDefined();
    }
    // Another caller presenting a's state, and a's state presented to another operation.
    const stolen = await modernTool('everything', b.key, INPUT_TOOL, {}, fresh);
    expect(stolen.message.error, `other caller: ${JSON.stringify(stolen.message)}`).toBeDefined();
    const retargeted = await modernTool('everything', a.key, 'test_input_required_result_elicitation', {}, fresh);
    // Refused, or at most asked again from scratch: never completed with another operation's state.
    const completed = retargeted.message.result !== undefined && retargeted.message.result.resultType !== 'input_required';
    expect(completed, `other operation: ${JSON.stringify(retargeted.message)}`).toBe(false);
    // The untouched state still works for its owner (refusals did not consume it).
    const owner = await modernTool('everything', a.key, INPUT_TOOL, {}, fresh);
    expect(JSON.stringify(owner.message.result?.content)).toContain('state-ok');

    // replay + 4 tampered + stolen = 6 refusals (the re-targeted call may simply start over).
    const denied = await exactly(t.id, `action=tools/call&result=denied`, 6, (e) => e.resource === INPUT_TOOL);
    for (const e of denied) expect(eraOf(e)).toBe(MODERN);
  });
});

describe('modern lane: handles are bound to tenant, principal and server', () => {
  it('a notebook handle works for its owner across calls and is refused, and audited, for another user, another tenant and another key', async () => {
    const t = await seedTenant(['notes'], ['member', 'admin']);
    const other = await seedTenant(['notes']);
    const mine = (await obtainToken(t.accounts.member!, 'notes')).access_token;
    const colleague = (await obtainToken(t.accounts.admin!, 'notes')).access_token;
    const stranger = (await obtainToken(other.accounts.member!, 'notes')).access_token;
    const key = await createKey(t.id, 'member');

    const { notebook } = resultJson((await modernTool('notes', mine, 'notebook_open')).message);
    expect(notebook).toBeTypeOf('string');
    await modernTool('notes', mine, 'add_note', { notebook, title: 'private', body: 'secret plans' });
    expect(resultJson((await modernTool('notes', mine, 'list_notes', { notebook })).message).map((n: any) => n.title)).toEqual(['private']);

    for (const [who, token] of [
      ['another user of the tenant', colleague],
      ['a user of another tenant', stranger],
      ['an API key of the tenant', key.key],
    ] as const) {
      for (const [tool, args] of [
        ['list_notes', { notebook }],
        ['add_note', { notebook, title: 'planted' }],
      ] as const) {
        const res = await modernTool('notes', token, tool, args);
        const text = JSON.stringify(res.message);
        expect(res.message.error ?? (res.message.result?.isError ? res.message.result : undefined), `${who} ${tool}: ${text}`).toBeDefined();
        expect(text).not.toContain('secret plans');
      }
    }
    expect(resultJson((await modernTool('notes', mine, 'list_notes', { notebook })).message).map((n: any) => n.title)).toEqual(['private']);

    // Refusals inside the tenant land in its trail (4: colleague and key, two tools each); the stranger's in theirs (2).
    await exactly(t.id, 'result=denied', 4);
    await exactly(other.id, 'result=denied', 2);
  });
});

describe('modern lane: audit and metrics count every call once, with the era', () => {
  it('N modern tools/call requests are exactly N audit events recording 2026-07-28, and the metrics count them', async () => {
    const t = await seedTenant(['everything']);
    const { key } = await createKey(t.id, 'member');
    const N = 7;
    for (let i = 0; i < N; i++) expect((await modernTool('everything', key, 'test_simple_text')).status).toBe(200);
    const events = await exactly(t.id, 'action=tools/call', N);
    for (const e of events) {
      expect(e).toMatchObject({ tenant: t.id, server: 'everything', resource: 'test_simple_text', result: 'ok', session: null });
      expect(eraOf(e)).toBe(MODERN);
      expect(e.latencyMs).toEqual(expect.any(Number));
    }
    // The metrics are rolled up from the same events: the tenant made exactly these N requests.
    const metrics = (await auditQuery(`/tenants/${t.id}/metrics?window=60&bucket=5`)).body;
    expect(metrics.servers.find((s: any) => s.server === 'everything')).toMatchObject({ requests: N, errors: 0 });

    // A 2025-era call on the same server is recorded with its own era.
    const session = await openSession('everything', key);
    expect(session).toBeTruthy();
    const legacy = await waitForEvents(t.id, 'action=initialize', (e) => e.length === 1);
    expect(eraOf(legacy[0])).not.toBe(MODERN);
  });
});
