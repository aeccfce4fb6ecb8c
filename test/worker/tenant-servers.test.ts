import { env, listDurableObjectIds } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { modernCall, textOf } from './modern-client';
import { adminCall, call, createKey, createTenant, mcpPost, openSession, rpcMessages } from './platform-client';
import { waitForEvents } from './audit-support';
import { GOOD_MODULE, GOOD_MODULE_V2 } from '../support/tenant-modules';

const uniqueName = () => `mod-${crypto.randomUUID().slice(0, 8)}`;
const deploy = (tenant: string, name: string, module: string, extra: Record<string, unknown> = {}, bearer?: string) =>
  adminCall('PUT', `/tenants/${tenant}/servers/${name}`, { module, ...extra }, bearer);

/** A tenant with `module` deployed as a fresh name, and a member API key. */
async function deployed(module = GOOD_MODULE) {
  const tenant = await createTenant([]);
  const name = uniqueName();
  const res = await deploy(tenant, name, module);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const { key } = await createKey(tenant, 'member');
  return { tenant, name, key, session: await openSession(name, key) };
}

const echo = async (s: { name: string; key: string; session: string }, text = 'hi') =>
  (await call(s.name, s.key, s.session, 'tools/call', { name: 'echo', arguments: { text } })).message;

describe('tenant-deployed servers: deploy API and serving', () => {
  it('deploys, serves, redeploys, lists versions and rolls back; each change audited', async () => {
    const tenant = await createTenant([]);
    const name = uniqueName();
    const first = await deploy(tenant, name, GOOD_MODULE, { title: 'My module' });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ name, version: 1, tools: ['echo', 'bump'], title: 'My module', url: `http://localhost:8787/servers/${name}/mcp` });
    const { key } = await createKey(tenant, 'member');
    const s = { name, key, session: await openSession(name, key) };
    const list = await call(name, key, s.session, 'tools/list');
    expect(list.message.result.tools.map((t: { name: string }) => t.name)).toEqual(['echo', 'bump']);
    expect(list.message.result.tools[0]).toMatchObject({ annotations: { readOnlyHint: true }, inputSchema: { type: 'object', required: ['text'] } });
    expect((await echo(s)).result.content[0].text).toBe(`v1:hi:${tenant}:member`);
    const bump = await call(name, key, s.session, 'tools/call', { name: 'bump', arguments: { key: 'c' } });
    expect(bump.message.result.structuredContent).toEqual({ n: 1, file: '1' });

    const second = await deploy(tenant, name, GOOD_MODULE_V2);
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({ version: 2, title: 'My module' });
    expect((await echo(s)).result.content[0].text).toBe(`v2:hi:${tenant}:member`); // the same session, the next call
    const versions = await adminCall('GET', `/tenants/${tenant}/servers/${name}/versions`);
    expect(versions.body.versions.map((v: { version: number; active: boolean }) => [v.version, v.active])).toEqual([
      [2, true],
      [1, false],
    ]);

    const back = await adminCall('POST', `/tenants/${tenant}/servers/${name}/rollback`, { version: 1 });
    expect(back.status).toBe(200);
    expect(back.body.version).toBe(1);
    expect((await echo(s)).result.content[0].text).toBe(`v1:hi:${tenant}:member`);
    expect((await adminCall('POST', `/tenants/${tenant}/servers/${name}/rollback`, { version: 9 })).status).toBe(404);
    expect((await adminCall('GET', `/tenants/${tenant}/servers`)).body.servers.map((x: { name: string }) => x.name)).toEqual([name]);

    expect((await adminCall('DELETE', `/tenants/${tenant}/servers/${name}`)).status).toBe(204);
    const gone = await mcpPost(name, key, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, s.session);
    expect(gone.status).toBe(404);

    const events = (await waitForEvents(tenant, '', (e) => e.filter((x) => x.action.startsWith('admin.tenant_server.')).length >= 5)).filter((x) =>
      x.action.startsWith('admin.tenant_server.'),
    );
    const seen = events.map((e) => [e.action, e.result, e.details?.status]).sort();
    expect(seen).toEqual(
      [
        ['admin.tenant_server.delete', 'ok', 204],
        ['admin.tenant_server.deploy', 'ok', 201],
        ['admin.tenant_server.deploy', 'ok', 201],
        ['admin.tenant_server.rollback', 'ok', 200],
        ['admin.tenant_server.rollback', 'denied', 404],
      ].sort(),
    );
  });

  it('refuses bad modules with a 400 naming the problem, audits each refusal, and leaves the running version serving', async () => {
    const s = await deployed();
    const bad: Array<[string, string, RegExp]> = [
      ['syntax_error', 'export default { tools: { ', /syntax error/],
      ['import_refused', "import x from 'cloudflare:workers';\nexport default { tools: {} };", /import declarations are not allowed.*\(line 1\)/],
      ['import_refused', 'export default { tools: { a: { description: "", inputSchema: { type: "object" }, run: () => import("x") } } };', /dynamic import/],
      ['import_refused', "export * from './other.js';\nexport default {};", /re-exports/],
      ['bad_export', 'export const tools = {};', /default export/],
      ['bad_export', 'export default { tools: {} };', /at least one tool/],
      ['bad_export', 'export default { tools: { a: { description: "x", inputSchema: { type: "object" } } } };', /"run" must be a function/],
      ['bad_export', 'export default { tools: { a: { description: "x", inputSchema: { type: "string" }, run() {} } } };', /inputSchema/],
      ['bad_export', 'export default { tools: { "bad name": { description: "x", inputSchema: { type: "object" }, run() {} } } };', /names are 1-64/],
      ['bad_export', 'throw new Error("boom at load");\nexport default {};', /boom at load/],
      ['bad_export', 'while (true) {}\nexport default {};', /operation budget/],
      ['module_too_large', `// ${'x'.repeat(256 * 1024)}\nexport default {};`, /limit is 262144 bytes/],
    ];
    for (const [code, module, message] of bad) {
      const res = await deploy(s.tenant, s.name, module);
      expect(res.status, module.slice(0, 60)).toBe(400);
      expect(res.body.error.code, module.slice(0, 60)).toBe(code);
      expect(res.body.error.message, module.slice(0, 60)).toMatch(message);
    }
    expect((await echo(s)).result.content[0].text).toBe(`v1:hi:${s.tenant}:member`);
    expect((await adminCall('GET', `/tenants/${s.tenant}/servers/${s.name}/versions`)).body.versions).toHaveLength(1);
    const events = await waitForEvents(s.tenant, 'action=admin.tenant_server.deploy&result=error', (e) => e.length >= bad.length);
    expect(events.map((e) => e.details.error).sort()).toEqual(bad.map(([code]) => code).sort());
  });

  it('enforces the name rules: no compiled-in name, no upstream/module clash within a tenant, the server-name pattern', async () => {
    const tenant = await createTenant([]);
    expect((await deploy(tenant, 'notes', GOOD_MODULE)).status).toBe(409);
    expect((await deploy(tenant, 'Bad_Name', GOOD_MODULE)).status).toBe(400);
    const upstream = uniqueName();
    expect((await adminCall('POST', `/tenants/${tenant}/upstreams`, { name: upstream, url: 'https://mcp.example.com/mcp' })).status).toBe(201);
    const clash = await deploy(tenant, upstream, GOOD_MODULE);
    expect(clash.status).toBe(409);
    expect(clash.body.error.message).toContain('an upstream');
    const name = uniqueName();
    expect((await deploy(tenant, name, GOOD_MODULE)).status).toBe(201);
    const reverse = await adminCall('POST', `/tenants/${tenant}/upstreams`, { name, url: 'https://mcp.example.com/mcp' });
    expect(reverse.status).toBe(409);
    expect(reverse.body.error.message).toContain('a deployed server');
  });

  it('another tenant sees a deployed server exactly like an unknown name, on the MCP route and in the admin API', async () => {
    const s = await deployed();
    const other = await createTenant([]);
    const { key: otherKey } = await createKey(other, 'admin');
    const init = {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    };
    const theirs = await mcpPost(s.name, otherKey, init);
    // A name no tenant defined answers before the token; one another tenant defined answers after it, identically.
    const unknownForTenant = uniqueName();
    await deploy(await createTenant([]), unknownForTenant, GOOD_MODULE);
    const neither = await mcpPost(unknownForTenant, otherKey, init);
    expect(theirs.status).toBe(404);
    expect(neither.status).toBe(404);
    expect(await theirs.json()).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: `Unknown server "${s.name}"` } });
    expect((await rpcMessages(neither))[0].error.code).toBe(-32600);
    expect((await adminCall('GET', `/tenants/${s.tenant}/servers`, undefined, otherKey)).status).toBe(404);
    expect((await adminCall('PUT', `/tenants/${s.tenant}/servers/${s.name}`, { module: GOOD_MODULE_V2 }, otherKey)).status).toBe(404);
    expect((await echo(s)).result.content[0].text).toBe(`v1:hi:${s.tenant}:member`);
  });

  it('a tenant admin key deploys for its own tenant; member keys cannot', async () => {
    const tenant = await createTenant([]);
    const admin = await createKey(tenant, 'admin');
    const member = await createKey(tenant, 'member');
    expect((await deploy(tenant, uniqueName(), GOOD_MODULE, {}, member.key)).status).toBe(403);
    expect((await deploy(tenant, uniqueName(), GOOD_MODULE, {}, admin.key)).status).toBe(201);
  });

  it('applies role policy from the tool annotations and validates arguments against inputSchema before the sandbox runs', async () => {
    const s = await deployed();
    const { key: readOnly } = await createKey(s.tenant, 'read-only');
    const session = await openSession(s.name, readOnly);
    const listed = await call(s.name, readOnly, session, 'tools/list');
    expect(listed.message.result.tools.map((t: { name: string }) => t.name)).toEqual(['echo']);
    expect((await call(s.name, readOnly, session, 'tools/call', { name: 'echo', arguments: { text: 'ro' } })).message.result.content[0].text).toContain(
      'read-only',
    );
    const denied = await call(s.name, readOnly, session, 'tools/call', { name: 'bump', arguments: { key: 'k' } });
    expect(denied.message.error.code).toBe(-32003);
    for (const args of [{ text: 5 }, {}, { text: 'x', extra: true }, { text: 'x'.repeat(1001) }]) {
      const bad = await call(s.name, s.key, s.session, 'tools/call', { name: 'echo', arguments: args });
      expect(bad.message.error?.code, JSON.stringify(args)).toBe(-32602);
    }
    const unknown = await call(s.name, s.key, s.session, 'tools/call', { name: 'nope', arguments: {} });
    expect(unknown.message.error.code).toBe(-32602);
    await waitForEvents(s.tenant, 'action=tools/call&result=denied', (e) => e.length === 1 && e[0].resource === 'bump');
  });
});

describe('tenant-deployed servers: the 2026-07-28 stateless lane', () => {
  it('serves the same module statelessly: tools, validation, policy, faults and tenancy as in the 2025 lane, with no session object', async () => {
    const tenant = await createTenant([]);
    const name = uniqueName();
    const module = GOOD_MODULE.replace(
      '  tools: {',
      "  tools: {\n    spin: { description: 'loops', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true }, run: () => { while (true) {} } },",
    );
    expect((await deploy(tenant, name, module)).status).toBe(201);
    const { key } = await createKey(tenant, 'member');
    const { key: readOnly } = await createKey(tenant, 'read-only');
    const before = (await listDurableObjectIds(env.TENANT_MODULE_SERVER)).length;

    const listed = await modernCall(name, key, 'tools/list');
    expect(listed.status).toBe(200);
    expect(listed.message.result.tools.map((t: { name: string }) => t.name)).toEqual(['spin', 'echo', 'bump']);
    expect(textOf((await modernCall(name, key, 'tools/call', { name: 'echo', arguments: { text: 'modern' } })).message)).toBe(`v1:modern:${tenant}:member`);
    const bumped = await modernCall(name, key, 'tools/call', { name: 'bump', arguments: { key: 'm' } });
    expect(bumped.message.result.structuredContent).toEqual({ n: 1, file: '1' });

    const invalid = await modernCall(name, key, 'tools/call', { name: 'echo', arguments: { text: 7 } });
    expect(invalid.message.error?.code ?? (invalid.message.result?.isError ? 'tool-error' : 'ok')).not.toBe('ok');
    expect(JSON.stringify(invalid.message)).not.toContain('v1:');
    const roList = await modernCall(name, readOnly, 'tools/list');
    expect(roList.message.result.tools.map((t: { name: string }) => t.name)).toEqual(['spin', 'echo']);
    const denied = await modernCall(name, readOnly, 'tools/call', { name: 'bump', arguments: { key: 'm' } });
    expect(denied.message.error.code).toBe(-32003);
    const spun = await modernCall(name, key, 'tools/call', { name: 'spin', arguments: {} });
    expect(spun.message.error.code).toBe(-32010);
    expect(spun.message.error.message).toMatch(/budget/);

    // Redeploy: the next stateless call runs the new version.
    expect((await deploy(tenant, name, GOOD_MODULE_V2)).status).toBe(201);
    expect(textOf((await modernCall(name, key, 'tools/call', { name: 'echo', arguments: { text: 'again' } })).message)).toBe(`v2:again:${tenant}:member`);

    // Another tenant: the same 404 as an unknown name.
    const other = await createTenant([]);
    const { key: otherKey } = await createKey(other, 'member');
    const theirs = await modernCall(name, otherKey, 'tools/list');
    expect(theirs.status).toBe(404);
    expect(theirs.message.error.message).toBe(`Unknown server "${name}"`);
    expect((await listDurableObjectIds(env.TENANT_MODULE_SERVER)).length).toBe(before);
    const events = await waitForEvents(tenant, 'action=tenant_server.fault', (e) => e.length >= 1);
    expect(events[0].details.reason).toBe('budget');
  });
});
