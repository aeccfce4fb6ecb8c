import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { findServer } from '../../servers/registry';
import { connectionSnippets } from '../../src/dashboard/servers-page';
import { FormBrowser, inputValue } from '../support/browser-forms';
import { waitForEvents } from './audit-support';
import { D, operatorSignedIn, signedIn } from './dashboard-support';
import { adminCall, createKey, mcpPost, ORIGIN, seedTenant } from './platform-client';

/**
 * Dashboard gaps closed by issue 19: password reset (tenant admins for their users, the operator
 * for anyone), enabling and disabling servers for a tenant (the operator only), and connection
 * snippets for Claude Code and VS Code. Each change goes through the admin operations and is audited.
 */

const NEW_PASSWORD = 'Fresh-Battery-Staple-42';

async function signInStatus(email: string, password: string): Promise<number> {
  const browser = new FormBrowser((input, init) => SELF.fetch(input, init));
  const form = await (await browser.get(`${D}/sign-in`)).text();
  return (await browser.post(`${D}/sign-in`, { csrf: inputValue(form, 'csrf'), email, password })).status;
}

const initialize = (key: string) =>
  mcpPost('notes', key, {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'gaps', version: '1' } },
  });

describe('password reset', () => {
  it('a tenant admin resets a user’s password: the old one stops working, the new one signs in, the audit says it was a reset and never the password', async () => {
    const { id, accounts } = await seedTenant(['notes'], ['admin', 'member']);
    const member = accounts.member!;
    const { browser, csrf } = await signedIn(accounts.admin!);
    const users = await (await browser.get(`${D}/t/${id}/users`)).text();
    const userId = new RegExp(`<tr data-user-id="(usr_[a-z0-9]+)">\\s*<td>${member.email}`).exec(users)![1]!;
    expect(users).toContain(`<label for="password-${userId}" class="visually-hidden">New password for ${member.email}</label>`);

    const weak = await browser.post(`${D}/t/${id}/users/${userId}/password`, { csrf, password: 'short' });
    expect(weak.status).toBe(400);
    expect(await weak.text()).toContain('at least 12 characters');
    expect(await signInStatus(member.email, member.password)).toBe(303);

    const done = await browser.post(`${D}/t/${id}/users/${userId}/password`, { csrf, password: NEW_PASSWORD });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`/dashboard/t/${id}/users?done=password`);
    expect(await signInStatus(member.email, member.password)).toBe(401);
    expect(await signInStatus(member.email, NEW_PASSWORD)).toBe(303);

    const events = await waitForEvents(id, 'action=admin.user.update', (e) => e.some((x) => x.result === 'ok'));
    const ok = events.find((e) => e.result === 'ok')!;
    expect(ok).toMatchObject({ resource: userId, details: { via: 'dashboard', change: 'password-reset' } });
    expect(JSON.stringify(events)).not.toContain(NEW_PASSWORD);
  });

  it('is refused to members, to admins of another tenant, and without the CSRF token; the operator may reset anyone', async () => {
    const { id, accounts } = await seedTenant(['notes'], ['admin', 'member']);
    const other = await seedTenant(['notes'], ['admin']);
    const admin = await signedIn(accounts.admin!);
    const users = await (await admin.browser.get(`${D}/t/${id}/users`)).text();
    const userId = new RegExp(`<tr data-user-id="(usr_[a-z0-9]+)">\\s*<td>${accounts.member!.email}`).exec(users)![1]!;

    const member = await signedIn(accounts.member!);
    expect((await member.browser.post(`${D}/t/${id}/users/${userId}/password`, { csrf: member.csrf, password: NEW_PASSWORD })).status).toBe(403);
    const stranger = await signedIn(other.accounts.admin!);
    expect((await stranger.browser.post(`${D}/t/${id}/users/${userId}/password`, { csrf: stranger.csrf, password: NEW_PASSWORD })).status).toBe(404);
    expect((await admin.browser.post(`${D}/t/${id}/users/${userId}/password`, { csrf: 'x'.repeat(64), password: NEW_PASSWORD })).status).toBe(403);
    expect((await admin.browser.post(`${D}/t/${id}/users/usr_nosuchuser/password`, { csrf: admin.csrf, password: NEW_PASSWORD })).status).toBe(404);

    const operator = await operatorSignedIn();
    expect((await operator.browser.post(`${D}/t/${id}/users/${userId}/password`, { csrf: operator.csrf, password: NEW_PASSWORD })).status).toBe(303);
    const denied = await waitForEvents(id, 'result=denied&action=dashboard.access', (e) => e.length >= 2);
    expect(denied.map((e) => e.details.reason)).toEqual(expect.arrayContaining(['role member', 'csrf token missing or wrong']));
    const strayed = await waitForEvents(other.id, 'result=denied&action=dashboard.access', (e) => e.length >= 1);
    expect(strayed[0]).toMatchObject({ details: { reason: 'outside its tenant', targetTenant: id } });
  });
});

describe('servers enabled per tenant (operator)', () => {
  it('the operator disables and re-enables a server; MCP follows from the next request; the change is audited', async () => {
    const { id } = await seedTenant(['notes'], ['admin']);
    const key = (await createKey(id, 'member')).key;
    expect((await initialize(key)).status).toBe(200);
    const { browser, csrf } = await operatorSignedIn();
    const page = await (await browser.get(`${D}/t/${id}/servers`)).text();
    expect(page).toContain(`action="/dashboard/t/${id}/servers/notes/disable"`);
    expect(page).toContain(`action="/dashboard/t/${id}/servers/storage/enable"`);

    const off = await browser.post(`${D}/t/${id}/servers/notes/disable`, { csrf });
    expect(off.status).toBe(303);
    expect(off.headers.get('location')).toBe(`/dashboard/t/${id}/servers?done=disabled`);
    expect((await adminCall('GET', `/tenants/${id}`)).body.servers).toEqual([]);
    expect((await initialize(key)).status).toBe(403);

    expect((await browser.post(`${D}/t/${id}/servers/notes/enable`, { csrf })).status).toBe(303);
    expect((await adminCall('GET', `/tenants/${id}`)).body.servers).toEqual(['notes']);
    expect((await initialize(key)).status).toBe(200);
    expect((await browser.post(`${D}/t/${id}/servers/no-such-server/enable`, { csrf })).status).toBe(404);

    const events = await waitForEvents(id, 'action=admin.tenant.update', (e) => e.filter((x) => x.result === 'ok').length >= 2);
    expect(events.filter((e) => e.result === 'ok').map((e) => e.details.servers)).toEqual(expect.arrayContaining([[], ['notes']]));
  });

  it('a tenant admin sees no toggle and is refused (as if the route did not exist)', async () => {
    const { id, accounts } = await seedTenant(['notes'], ['admin']);
    const { browser, csrf } = await signedIn(accounts.admin!);
    expect(await (await browser.get(`${D}/t/${id}/servers`)).text()).not.toContain('/servers/notes/disable');
    expect((await browser.post(`${D}/t/${id}/servers/storage/enable`, { csrf })).status).toBe(404);
    expect((await adminCall('GET', `/tenants/${id}`)).body.servers).toEqual(['notes']);
    const denied = await waitForEvents(id, 'result=denied&action=dashboard.access', (e) => e.length >= 1);
    expect(denied[0].details.reason).toBe('not the operator');
  });
});

describe('connection snippets', () => {
  it('include Claude Code (OAuth and API-key header) and VS Code (.vscode/mcp.json) beside the others', async () => {
    const snippets = connectionSnippets(ORIGIN, findServer('notes')!);
    const url = `${ORIGIN}/servers/notes/mcp`;
    const byId = Object.fromEntries(snippets.map((s) => [s.id, s.text]));
    expect(byId['claude-code']).toBe(
      `claude mcp add --transport http smcp-notes ${url}\nclaude mcp add --transport http smcp-notes ${url} --header "Authorization: Bearer $SMCP_API_KEY"`,
    );
    expect(JSON.parse(byId.vscode!)).toEqual({ servers: { 'smcp-notes': { type: 'http', url } } });
    expect(Object.keys(byId)).toEqual(expect.arrayContaining(['url', 'claude', 'claude-code', 'cursor', 'vscode', 'inspector', 'sse']));

    const { accounts } = await seedTenant(['notes'], ['read-only']);
    const { browser, home } = await signedIn(accounts['read-only']!);
    const page = await (await browser.get(home)).text();
    expect(page).toContain('data-copy="snippet-notes-claude-code"');
    expect(page).toContain('data-copy="snippet-notes-vscode"');
    expect(page).toContain('--header &quot;Authorization: Bearer $SMCP_API_KEY&quot;');
  });
});
