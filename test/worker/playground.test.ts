import { describe, expect, it } from 'vitest';
import type { FormBrowser } from '../support/browser-forms';
import { waitForEvents } from './audit-support';
import { D, operatorSignedIn, signedIn } from './dashboard-support';
import { adminCall, ORIGIN, seedTenant } from './platform-client';
import { GOOD_MODULE } from '../support/tenant-modules';

/**
 * The dashboard's tool playground through the real Worker: forms from input schemas, calls made
 * through the platform gate as the signed-in user, results of every content type, the call's
 * audit event, and the same policy as any client (a read-only user neither sees nor can call a
 * write tool, even with a forged form). The browser journey is in test/node/dashboard-browser.test.ts.
 */

async function userIdOf(tenant: string, email: string): Promise<string> {
  const users = (await adminCall('GET', `/tenants/${tenant}/users`)).body;
  return (users.users ?? users).find((u: { email: string }) => u.email === email).id;
}

const call = (browser: FormBrowser, tenant: string, server: string, fields: Record<string, string>) =>
  browser.post(`${D}/t/${tenant}/playground/${server}/call`, fields);

describe('tool playground', () => {
  it('lists the tenant’s servers and builds forms from the tools’ input schemas', async () => {
    const { id, accounts } = await seedTenant(['notes', 'everything'], ['member']);
    const { browser } = await signedIn(accounts.member!);
    const picker = await (await browser.get(`${D}/t/${id}/playground`)).text();
    expect(picker).toContain(`href="/dashboard/t/${id}/playground/notes"`);
    expect(picker).toContain(`href="/dashboard/t/${id}/playground/everything"`);
    expect(picker).not.toContain('/playground/storage');
    const res = await browser.get(`${D}/t/${id}/playground/notes`);
    const page = await res.text();
    expect(res.status, page.slice(0, 500)).toBe(200);
    for (const tool of ['add_note', 'list_notes', 'search_notes', 'delete_note']) expect(page).toContain(`data-tool="${tool}"`);
    expect(page).toMatch(
      /<input id="tool-form-\d-a0" name="arg:title" type="text" maxlength="200" value="" autocomplete="off" aria-describedby="tool-form-\d-a0-help" required>/,
    );
    expect(page).toMatch(/name="arg:id" type="number" step="1" min="0"|name="arg:id" type="number" step="1"/);
    expect(res.headers.get('content-security-policy')).toContain("img-src 'self' data:");
    // Only the playground allows data: images.
    expect((await browser.get(`${D}/t/${id}/servers`)).headers.get('content-security-policy')).not.toContain('data:');
  });

  it('calls a tool as the signed-in user through the gate, shows the escaped result and the audit event it produced', async () => {
    const { id, accounts } = await seedTenant(['notes'], ['member']);
    const member = accounts.member!;
    const { browser, csrf } = await signedIn(member);
    const res = await call(browser, id, 'notes', { csrf, tool: 'add_note', 'arg:title': '<b>bold</b> title', 'arg:body': 'secret body' });
    const page = await res.text();
    expect(res.status, page.slice(0, 500)).toBe(200);
    expect(page).toContain('data-result="ok"');
    expect(page).toContain('&lt;b&gt;bold&lt;/b&gt; title');
    expect(page).not.toContain('<b>bold</b>');
    const userId = await userIdOf(id, member.email);
    const events = await waitForEvents(id, 'action=tools/call', (e) => e.some((x) => x.client === 'smcp-dashboard-playground'));
    const event = events.find((x) => x.client === 'smcp-dashboard-playground')!;
    expect(event).toMatchObject({ result: 'ok', user: userId, server: 'notes', resource: 'add_note' });
    expect(JSON.stringify(event)).not.toContain('secret body');
    // The page shows that same event (or, if delivery was slow, a link that finds it).
    const shown = page.includes(`data-audit-event="${event.id}"`)
      ? page
      : await (await browser.get(`${ORIGIN}${/href="([^"]*\/event\?[^"]*)"/.exec(page)![1]!.replaceAll('&amp;', '&')}`)).text();
    expect(shown).toContain(`data-audit-event="${event.id}"`);
  });

  it('gives a read-only user only read-only tools, and the platform refuses (and audits) a forged write call', async () => {
    const { id, accounts } = await seedTenant(['notes'], ['read-only']);
    const reader = accounts['read-only']!;
    const { browser, csrf } = await signedIn(reader);
    const page = await (await browser.get(`${D}/t/${id}/playground/notes`)).text();
    expect(page).toContain('data-tool="list_notes"');
    expect(page).not.toContain('data-tool="add_note"');
    expect(page).not.toContain('data-tool="delete_note"');
    const forged = await (await call(browser, id, 'notes', { csrf, tool: 'add_note', 'arg:title': 'x' })).text();
    expect(forged).toMatch(/data-result="(refused|tool-error)"/);
    const userId = await userIdOf(id, reader.email);
    const denied = await waitForEvents(id, 'action=tools/call&result=denied', (e) => e.some((x) => x.user === userId));
    expect(denied.find((x) => x.user === userId)).toMatchObject({ resource: 'add_note', client: 'smcp-dashboard-playground' });
  });

  it('shows images, embedded resources and tool errors; refuses bad input before calling', async () => {
    const { id, accounts } = await seedTenant(['notes', 'everything'], ['member']);
    const { browser, csrf } = await signedIn(accounts.member!);
    const image = await (await call(browser, id, 'everything', { csrf, tool: 'test_image_content' })).text();
    expect(image).toMatch(/<img class="result-image" src="data:image\/png;base64,[A-Za-z0-9+/]+=*" alt="Image returned by test_image_content">/);
    const resource = await (await call(browser, id, 'everything', { csrf, tool: 'test_embedded_resource' })).text();
    expect(resource).toMatch(/Resource <code>[^<]+<\/code>/);
    const toolError = await (await call(browser, id, 'notes', { csrf, tool: 'delete_note', 'arg:id': '999' })).text();
    expect(toolError).toContain('data-result="tool-error"');
    expect(toolError).toContain('No note with id 999');
    const bad = await call(browser, id, 'notes', { csrf, tool: 'delete_note', 'arg:id': '1.5' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('id must be an integer');
  });

  it('needs the session’s CSRF token, refuses a server the tenant has not enabled, and is not offered to the operator', async () => {
    const { id, accounts } = await seedTenant(['notes'], ['member']);
    const { browser } = await signedIn(accounts.member!);
    const noCsrf = await call(browser, id, 'notes', { csrf: 'x'.repeat(64), tool: 'add_note', 'arg:title': 'csrf' });
    expect(noCsrf.status).toBe(403);
    const other = await (await browser.get(`${D}/t/${id}/playground/everything`)).text();
    expect(other).toContain('data-result="refused"');
    expect(other).toContain('not enabled for this tenant');
    expect((await browser.get(`${D}/t/${id}/playground/no-such-server`)).status).toBe(404);
    const operator = await operatorSignedIn();
    expect((await operator.browser.get(`${D}/t/${id}/playground/notes`)).status).toBe(403);
    const events = (await adminCall('GET', `/tenants/${id}/audit?action=tools/call`)).body.events;
    expect(events.filter((e: { resource: string }) => e.resource === 'add_note')).toEqual([]);
  });

  it('offers the tenant’s deployed modules too, called through the same gate, with structured content (and another tenant’s are unknown)', async () => {
    const { id, accounts } = await seedTenant([], ['member']);
    const name = `mod-${crypto.randomUUID().slice(0, 8)}`;
    expect((await adminCall('PUT', `/tenants/${id}/servers/${name}`, { module: GOOD_MODULE, title: 'My <module>' })).status).toBe(201);
    const { browser, csrf } = await signedIn(accounts.member!);
    const picker = await (await browser.get(`${D}/t/${id}/playground`)).text();
    expect(picker).toContain(`href="/dashboard/t/${id}/playground/${name}"`);
    expect(picker).toContain('My &lt;module&gt;');
    const tools = await (await browser.get(`${D}/t/${id}/playground/${name}`)).text();
    expect(tools).toContain('data-tool="echo"');
    const echoed = await (await call(browser, id, name, { csrf, tool: 'echo', 'arg:text': 'from the playground' })).text();
    expect(echoed).toContain('data-result="ok"');
    expect(echoed).toContain('from the playground');
    // Structured content, after the progress and log notifications the tool streams first.
    const bumped = await (await call(browser, id, name, { csrf, tool: 'bump', 'arg:key': 'visits' })).text();
    expect(bumped).toContain('data-result="ok"');
    expect(bumped).toMatch(/<h3>Structured content<\/h3><pre class="result-json">\{\n {2}&quot;n&quot;: 1,/);
    const other = await seedTenant([], ['member']);
    const stranger = await signedIn(other.accounts.member!);
    expect((await stranger.browser.get(`${D}/t/${other.id}/playground/${name}`)).status).toBe(404);
  });
});
