import { describe, expect, it } from 'vitest';
import { waitForEvents } from './audit-support';
import { D, signedIn } from './dashboard-support';
import { call, createKey, mcpPost, obtainToken, openSession, seedTenant } from './platform-client';

const handles = (html: string) => [...html.matchAll(/data-session="([0-9a-f-]{36})"/g)].map((m) => m[1]!);
const ping = (token: string, session: string) => mcpPost('notes', token, { jsonrpc: '2.0', id: 1, method: 'ping' }, session);

describe('dashboard Sessions page (issue 13 finding 7)', () => {
  it("shows users their own sessions and lets them end one; admins see and end the whole tenant's; CSRF and tenant walls hold", async () => {
    const a = await seedTenant(['notes'], ['admin', 'member']);
    const b = await seedTenant(['notes'], ['admin']);
    const token = (await obtainToken(a.accounts.member!, 'notes')).access_token;
    const mine = [await openSession('notes', token), await openSession('notes', token)];
    await call('notes', token, mine[0]!, 'tools/list'); // mine[0] is the most recently used
    const key = await createKey(a.id, 'member', { name: 'ci <bot>' });
    const keySession = await openSession('notes', key.key);

    const member = await signedIn(a.accounts.member!);
    const page = await member.browser.get(`${D}/t/${a.id}/sessions`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const own = handles(html);
    expect(own).toHaveLength(2);
    expect(html).toContain('Your sessions');
    expect(html).not.toContain('ci &lt;bot&gt;');

    const admin = await signedIn(a.accounts.admin!);
    const adminHtml = await (await admin.browser.get(`${D}/t/${a.id}/sessions`)).text();
    const all = handles(adminHtml);
    expect(all).toHaveLength(3);
    expect(adminHtml).toContain('key &quot;ci &lt;bot&gt;&quot;');
    expect(adminHtml).toContain(a.accounts.member!.email);
    const keyHandle = all.find((h) => !own.includes(h))!;

    // A member cannot end someone else's session, nor post without the page's CSRF token.
    expect((await member.browser.post(`${D}/t/${a.id}/sessions/${keyHandle}/end`, { csrf: member.csrf })).status).toBe(404);
    expect((await member.browser.post(`${D}/t/${a.id}/sessions/${own[1]}/end`, {})).status).toBe(403);
    expect((await member.browser.post(`${D}/t/${a.id}/sessions/${own[1]}/end`, { csrf: member.csrf }, 'https://evil.example')).status).toBe(403);
    // Another tenant's admin sees this tenant like a nonexistent one.
    const other = await signedIn(b.accounts.admin!);
    expect((await other.browser.get(`${D}/t/${a.id}/sessions`)).status).toBe(404);
    expect((await other.browser.post(`${D}/t/${a.id}/sessions/${keyHandle}/end`, { csrf: other.csrf })).status).toBe(404);
    for (const s of mine) expect((await ping(token, s)).status).toBe(200);
    expect((await ping(key.key, keySession)).status).toBe(200);

    // The member ends their least recently used session (listed last): that session id is unknown from then on.
    const ended = await member.browser.post(`${D}/t/${a.id}/sessions/${own[1]}/end`, { csrf: member.csrf });
    expect(ended.status).toBe(303);
    expect((await ping(token, mine[1]!)).status).toBe(404);
    expect((await ping(token, mine[0]!)).status).toBe(200);
    // The admin ends the key's session.
    expect((await admin.browser.post(`${D}/t/${a.id}/sessions/${keyHandle}/end`, { csrf: admin.csrf })).status).toBe(303);
    expect((await ping(key.key, keySession)).status).toBe(404);
    expect(handles(await (await admin.browser.get(`${D}/t/${a.id}/sessions`)).text())).toHaveLength(1);

    const events = await waitForEvents(a.id, 'action=session.ended', (e) => e.filter((x) => x.result === 'ok').length >= 2);
    const ok = events.filter((e) => e.result === 'ok');
    expect(ok.map((e) => e.details.via)).toEqual(['dashboard', 'dashboard']);
    const owners = ok.map((e) => e.details.owner);
    expect(owners).toContain(`key:${key.id}`);
    expect(owners.some((o) => /^usr_/.test(o))).toBe(true);
  });
});
