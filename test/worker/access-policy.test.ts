import { describe, expect, it } from 'vitest';
import { adminCall, call, mcpPost, obtainToken, openSession, seedTenant } from './platform-client';

describe('roles and tenant servers in the choke point', () => {
  it('shows read-only users only read-only tools and refuses the others with a JSON-RPC error', async () => {
    const { accounts } = await seedTenant(['notes'], ['read-only']);
    const { access_token } = await obtainToken(accounts['read-only']!, 'notes');
    const session = await openSession('notes', access_token);
    const listed = await call('notes', access_token, session, 'tools/list');
    expect(listed.message.result.tools.map((t: { name: string }) => t.name).sort()).toEqual(['list_notes', 'search_notes']);
    const denied = await call('notes', access_token, session, 'tools/call', { name: 'add_note', arguments: { title: 'x' } });
    expect(denied.message.error.code).toBe(-32003);
    expect(denied.message.error.message).toContain('Permission denied');
    expect((await call('notes', access_token, session, 'tools/call', { name: 'list_notes', arguments: {} })).message.result).toBeDefined();
  });

  it('refuses servers the tenant has not enabled, at sign-in and at the gate', async () => {
    const { accounts } = await seedTenant(['notes']);
    await expect(obtainToken(accounts.member!, 'everything')).rejects.toThrow(/consent|403|Not available/);
  });

  it('applies a changed role, a suspended tenant and a disabled server on the very next request of an open session', async () => {
    const tenant = await seedTenant(['notes']);
    const { access_token } = await obtainToken(tenant.accounts.member!, 'notes');
    const session = await openSession('notes', access_token);
    const add = () => call('notes', access_token, session, 'tools/call', { name: 'add_note', arguments: { title: 'x' } });
    expect((await add()).message.result).toBeDefined();

    // Changed through the platform (admin API), as an operator or tenant admin does; the credential
    // lookup an isolate caches is forgotten by the change (docs/security.md, credential lookups).
    const users = (await adminCall('GET', `/tenants/${tenant.id}/users`)).body.users as Array<{ id: string; email: string }>;
    const member = users.find((u) => u.email === tenant.accounts.member!.email)!;
    expect((await adminCall('PATCH', `/tenants/${tenant.id}/users/${member.id}`, { role: 'read-only' })).status).toBe(200);
    expect((await add()).message.error.code).toBe(-32003);

    expect((await adminCall('PATCH', `/tenants/${tenant.id}`, { status: 'suspended' })).status).toBe(200);
    const suspended = await mcpPost('notes', access_token, { jsonrpc: '2.0', id: 1, method: 'ping' }, session);
    expect(suspended.status).toBe(403);
    expect(await suspended.json()).toMatchObject({ error: { message: 'Access denied: tenant is suspended' } });

    expect((await adminCall('PATCH', `/tenants/${tenant.id}`, { status: 'active', servers: [] })).status).toBe(200);
    const disabled = await mcpPost('notes', access_token, { jsonrpc: '2.0', id: 1, method: 'ping' }, session);
    expect(disabled.status).toBe(403);
    expect(await disabled.json()).toMatchObject({ error: { message: 'Access denied: server "notes" is not enabled for this tenant' } });
  });
});
