import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { adminCall, call, createKey, createTenant, openSession } from './platform-client';
import { waitForEvents } from './audit-support';
import { attackModule, GOOD_MODULE } from '../support/tenant-modules';

/**
 * The sandbox's guarantees (docs/security.md, "Tenant-deployed servers"), each by performing the
 * attack through the real Worker: a tenant module tries to reach the network, another tenant's
 * data, the platform's bindings and secrets, to pollute what it is handed, to loop or allocate
 * without bound and to return a huge result. A second tenant's server answers after every attack.
 */

const ATTACKS = {
  network: `
    const out = [];
    for (const url of ['https://example.com/', 'http://127.0.0.1:8787/health', 'http://localhost:8787/admin/api/tenants']) {
      try { const r = await fetch(url); out.push('reached ' + url + ' ' + r.status); } catch (e) { out.push('blocked'); }
    }
    try { const { connect } = globalThis; out.push(typeof connect); } catch { out.push('no connect'); }
    return out;`,
  otherTenantKv: `
    const victim = args.victim;
    const tries = ['secret', '../' + victim + ':kv:secret', 'tenant-' + victim + ':kv:secret', ':kv:secret'];
    const got = [];
    for (const k of tries) got.push(await ctx.kv.get(k));
    for (const bad of [{ toString() { return 'secret'; } }, ['secret'], null, 'x'.repeat(5000)]) {
      try { got.push(await ctx.kv.get(bad)); } catch (e) { got.push('refused'); }
    }
    try { got.push(await ctx.kv.list({ prefix: '', limit: 1000, tenant: victim })); } catch { got.push('refused'); }
    got.push((await ctx.kv.list({})).keys);
    try { ctx.caller.tenant = victim; } catch { got.push('caller frozen'); }
    try { ctx.kv.get = () => 'hijacked'; } catch { got.push('kv frozen'); }
    got.push(await ctx.files.get('../tenant-' + victim + '/secret.txt').catch(() => 'refused'));
    got.push(await ctx.files.get('secret.txt'));
    got.push((await ctx.files.list({})).paths);
    return got;`,
  platformBindings: `
    const names = Object.getOwnPropertyNames(globalThis);
    const found = {};
    for (const n of ['DB', 'DATA_KV', 'OAUTH_KV', 'FILES', 'LOADER', 'AUDIT_OUTBOX', 'TENANT_MODULE_SERVER', 'SMCP_SECRET', 'SMCP_ADMIN_TOKEN', 'SMCP_ENCRYPTION_KEYS', 'env', '__env', 'Deno', 'Bun']) found[n] = typeof globalThis[n];
    let processEnv = null;
    try { processEnv = globalThis.process && globalThis.process.env ? Object.keys(globalThis.process.env) : null; } catch {}
    const ctxKeys = Object.getOwnPropertyNames(ctx);
    const kvKeys = Object.getOwnPropertyNames(ctx.kv);
    let proto = null;
    try { proto = Object.getOwnPropertyNames(Object.getPrototypeOf(ctx.kv)); } catch {}
    return { names, found, processEnv, ctxKeys, kvKeys, proto, argsKeys: Object.keys(args) };`,
  pollute: `
    Object.prototype.role = 'admin';
    Object.prototype.tenant = 'someone-else';
    Object.prototype.isError = false;
    Array.prototype.push = () => 0;
    JSON.stringify = () => '{"content":[{"type":"text","text":"forged"}]}';
    try { Object.getPrototypeOf(ctx).role = 'admin'; } catch {}
    try { ctx.caller.__proto__.role = 'admin'; } catch {}
    return { content: [{ type: 'text', text: 'polluted' }], __proto__: { isError: true } };`,
  whoami: `return { role: ctx.caller.role, tenant: ctx.caller.tenant, own: Object.hasOwn(ctx.caller, 'role') };`,
  loop: `while (true) {}`,
  loopCaught: `for (;;) { try { while (true) {} } catch (e) {} }`,
  recursion: `const f = () => { try { return f(); } catch (e) { return f(); } }; return f();`,
  asyncLoop: `while (true) { await null; }`,
  allocate: `const a = []; while (true) a.push(new Array(1e6).fill(1));`,
  allocateOnce: `return 'x'.repeat(2 ** 28).length;`,
  typedArray: `return new Uint8Array(2 ** 31).length;`,
  hugeResult: `return 'x'.repeat(2 * 1024 * 1024);`,
  hang: `await new Promise((resolve) => setTimeout(resolve, 60_000));`,
};

async function setup() {
  const attacker = await createTenant([]);
  const victim = await createTenant([]);
  const name = `atk-${crypto.randomUUID().slice(0, 8)}`;
  const res = await adminCall('PUT', `/tenants/${attacker}/servers/${name}`, { module: attackModule(ATTACKS) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const victimName = `vic-${crypto.randomUUID().slice(0, 8)}`;
  expect((await adminCall('PUT', `/tenants/${victim}/servers/${victimName}`, { module: GOOD_MODULE })).status).toBe(201);
  const a = { name, key: (await createKey(attacker, 'member')).key, session: '' };
  a.session = await openSession(name, a.key);
  const v = { name: victimName, key: (await createKey(victim, 'member')).key, session: '' };
  v.session = await openSession(victimName, v.key);
  return { attacker, victim, a, v };
}

type Caller = { name: string; key: string; session: string };
const run = async (c: Caller, tool: string, args: Record<string, unknown> = {}) =>
  (await call(c.name, c.key, c.session, 'tools/call', { name: tool, arguments: args })).message;
const text = (m: any) => JSON.parse(m.result.content[0].text);

describe('tenant sandbox isolation', () => {
  it('egress: refused at deploy for private hosts; at run time only allowlisted hosts pass the egress gate', async () => {
    const tenant = await createTenant([]);
    const name = `egr-${crypto.randomUUID().slice(0, 8)}`;
    const module = attackModule({ fetchOther: `const r = await fetch('https://other.example.org/x'); return [r.status, await r.text()];` });
    for (const host of ['127.0.0.1', 'localhost', 'db.internal', '10.0.0.1']) {
      const refused = await adminCall('PUT', `/tenants/${tenant}/servers/${name}`, { module, egress: [host] });
      expect(refused.status, host).toBe(400);
      expect(refused.body.error.code, host).toBe('egress_refused');
    }
    expect((await adminCall('PUT', `/tenants/${tenant}/servers/${name}`, { module, egress: ['Bad Host'] })).status).toBe(400);
    expect((await adminCall('PUT', `/tenants/${tenant}/servers/${name}`, { module, egress: ['api.example.com'] })).status).toBe(201);
    const c = { name, key: (await createKey(tenant, 'member')).key, session: '' };
    c.session = await openSession(name, c.key);
    expect(text(await run(c, 'fetchOther'))).toEqual([403, 'SMCP egress refused: "other.example.org" is not in this server\'s egress allowlist']);
  });

  it('has no network, no other tenant data, no platform bindings; pollution stays inside; the victim is unaffected', async () => {
    const { attacker, victim, a, v } = await setup();
    await env.DATA_KV.put(`tenant-${victim}:kv:secret`, 'victim-secret');
    await env.FILES.put(`tenant-${victim}/secret.txt`, 'victim-file');

    const net = text(await run(a, 'network'));
    expect(net.slice(0, 3)).toEqual(['blocked', 'blocked', 'blocked']);

    const data = text(await run(a, 'otherTenantKv', { victim }));
    expect(JSON.stringify(data)).not.toContain('victim-');
    expect(data.slice(0, 4)).toEqual([null, null, null, null]);
    expect(data.slice(4, 9)).toEqual(['refused', 'refused', 'refused', 'refused', 'refused']);
    expect(data).toContain('caller frozen');
    expect(data).toContain('kv frozen');

    const probe = text(await run(a, 'platformBindings', { x: 1 }));
    for (const value of Object.values(probe.found)) expect(value).toBe('undefined');
    expect(probe.processEnv ?? []).toEqual([]);
    expect(JSON.stringify({ ...probe, found: null })).not.toMatch(/test-secret|test-operator-token|LOADER|DATA_KV|OAUTH_KV|AUDIT_OUTBOX/);
    expect(probe.ctxKeys.sort()).toEqual(['caller', 'files', 'kv', 'log', 'progress']);
    expect(probe.argsKeys).toEqual(['x']);

    const polluted = await run(a, 'pollute');
    expect(text(polluted)).toEqual({ content: [{ type: 'text', text: 'polluted' }] });
    // The same isolate afterwards: the caller still comes from the platform, own and unpolluted.
    expect(text(await run(a, 'whoami'))).toEqual({ role: 'member', tenant: attacker, own: true });
    const { key: readOnly } = await createKey(attacker, 'read-only');
    const roSession = await openSession(a.name, readOnly);
    const refused = await call(a.name, readOnly, roSession, 'tools/call', { name: 'whoami', arguments: {} });
    expect(refused.message.error.code).toBe(-32003); // policy decided in platform code, pollution or not

    expect((await run(v, 'echo', { text: 'ok' })).result.content[0].text).toBe(`v1:ok:${victim}:member`);
    expect(await env.DATA_KV.get(`tenant-${victim}:kv:secret`)).toBe('victim-secret');
  });

  it('stops loops, runaway recursion, async loops, unbounded allocation, huge results and hangs with a JSON-RPC error; faults audited; others keep working', async () => {
    const { attacker, victim, a, v } = await setup();
    const expectations: Array<[string, RegExp]> = [
      ['loop', /budget/],
      ['loopCaught', /budget/],
      ['asyncLoop', /budget/],
      ['allocate', /budget/],
      ['allocateOnce', /budget/],
      ['typedArray', /budget/],
      ['hugeResult', /limit is 1048576/],
    ];
    for (const [tool, message] of expectations) {
      const answer = await run(a, tool);
      expect(answer.error?.code, tool).toBe(-32010);
      expect(answer.error.message, tool).toMatch(message);
      expect((await run(v, 'echo', { text: tool })).result.content[0].text, tool).toBe(`v1:${tool}:${victim}:member`);
      expect(text(await run(a, 'whoami')).tenant, tool).toBe(attacker);
    }
    const recursion = await run(a, 'recursion');
    expect(recursion.error?.code ?? (recursion.result.isError ? -1 : 0)).not.toBe(0); // stack overflow or budget: never a hang
    // A call that never settles is abandoned at the deadline; meanwhile both tenants' other calls are answered.
    const hang = run(a, 'hang');
    expect((await run(v, 'echo', { text: 'during' })).result.content[0].text).toBe(`v1:during:${victim}:member`);
    expect(text(await run(a, 'whoami')).tenant).toBe(attacker);
    const abandoned = await hang;
    expect(abandoned.error?.code).toBe(-32010);
    expect(abandoned.error.message).toMatch(/did not finish within 10000 ms/);
    const events = await waitForEvents(
      attacker,
      'action=tenant_server.fault',
      (e) => e.length >= expectations.length + 1 && e.some((x) => x.details.reason === 'deadline'),
    );
    expect(events.map((e) => e.details.reason).sort()).toEqual(expect.arrayContaining(['budget', 'result_too_large', 'deadline']));
    expect(events.every((e) => e.result === 'error' && e.server === a.name)).toBe(true);
  });
});
