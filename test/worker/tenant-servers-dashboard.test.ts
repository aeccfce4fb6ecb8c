import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { D, signedIn } from './dashboard-support';
import { waitForEvents } from './audit-support';
import { adminCall, call, createKey, openSession, ORIGIN, seedTenant } from './platform-client';
import { GOOD_MODULE, GOOD_MODULE_V2 } from '../support/tenant-modules';

describe('dashboard: deployed servers page', () => {
  it('lets a tenant admin paste or upload a module, see versions, roll back and delete; refusals shown and audited; members are refused', async () => {
    const { id, accounts } = await seedTenant([], ['admin', 'member']);
    const { browser, csrf } = await signedIn(accounts.admin!);
    const page = `${D}/t/${id}/deployed`;
    expect((await browser.get(page)).status).toBe(200);

    const pasted = await browser.post(page, { csrf, name: 'pasted', source: GOOD_MODULE, title: 'Pasted <b>tools</b>' });
    const pastedHtml = await pasted.text();
    expect(pasted.status, pastedHtml.slice(0, 500)).toBe(201);
    expect(pastedHtml).toContain('Deployed pasted v1: tools echo, bump.');
    expect(pastedHtml).toContain('Pasted &lt;b&gt;tools&lt;/b&gt;');

    // The same page as a browser uploading a file (multipart).
    const upload = new FormData();
    upload.set('csrf', csrf);
    upload.set('name', 'pasted');
    upload.set('file', new File([GOOD_MODULE_V2], 'tools.js', { type: 'text/javascript' }));
    const uploaded = await SELF.fetch(page, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: (browser as unknown as { cookieHeader(): string }).cookieHeader(), origin: ORIGIN },
      body: upload,
    });
    expect(uploaded.status).toBe(201);
    expect(await uploaded.text()).toContain('Deployed pasted v2');

    const { key } = await createKey(id, 'member');
    const session = await openSession('pasted', key);
    const echo = async () => (await call('pasted', key, session, 'tools/call', { name: 'echo', arguments: { text: 'x' } })).message.result.content[0].text;
    expect(await echo()).toBe(`v2:x:${id}:member`);

    const bad = await browser.post(page, { csrf, name: 'pasted', source: 'export default { tools: {' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('syntax_error: syntax error');
    expect(await echo()).toBe(`v2:x:${id}:member`);

    const back = await browser.post(`${page}/pasted/rollback`, { csrf, version: '1' });
    expect(back.status).toBe(303);
    expect(await echo()).toBe(`v1:x:${id}:member`);
    expect((await browser.post(`${page}/pasted/rollback`, { csrf, version: '7' })).status).toBe(404);

    const member = await signedIn(accounts.member!);
    expect((await member.browser.get(page)).status).toBe(403);
    expect((await member.browser.post(page, { csrf: member.csrf, name: 'sneaky', source: GOOD_MODULE })).status).toBe(403);

    expect((await browser.post(`${page}/pasted/delete`, { csrf })).status).toBe(303);
    expect((await adminCall('GET', `/tenants/${id}/servers`)).body.servers).toEqual([]);

    const events = await waitForEvents(id, '', (e) => e.filter((x) => x.action.startsWith('admin.tenant_server.')).length >= 6);
    const dash = events.filter((x) => x.action.startsWith('admin.tenant_server.')).map((e) => [e.action, e.result, e.details.via]);
    expect(dash).toEqual(
      expect.arrayContaining([
        ['admin.tenant_server.deploy', 'ok', 'dashboard'],
        ['admin.tenant_server.deploy', 'error', 'dashboard'],
        ['admin.tenant_server.rollback', 'ok', 'dashboard'],
        ['admin.tenant_server.rollback', 'denied', 'dashboard'],
        ['admin.tenant_server.delete', 'ok', 'dashboard'],
      ]),
    );
  });
});
