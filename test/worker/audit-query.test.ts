import { createExecutionContext, env, SELF, waitOnExecutionContext, createScheduledController } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { auditQuery, seedStoreEvents, toolCall, waitForEvents } from './audit-support';
import { formAction, FormBrowser, inputValue } from '../support/browser-forms';
import { authorizationRequest } from '../support/oauth-flow';
import { adminCall, call, createKey, obtainToken, openSession, OPERATOR, ORIGIN, registerClient, seedTenant } from './platform-client';

const DAY = 86_400_000;

/** A tenant with a member key, an admin key and a read-only key, and some traffic of each kind. */
async function tenantWithTraffic() {
  const t = await seedTenant(['notes']);
  const member = await createKey(t.id, 'member');
  const admin = await createKey(t.id, 'admin');
  const reader = await createKey(t.id, 'read-only');
  const session = await openSession('notes', member.key);
  for (let i = 0; i < 5; i++)
    await call(
      'notes',
      member.key,
      session,
      'tools/call',
      toolCall('add_note', { title: `n${i}`, body: 'private body', api_token: 'sk-live-SHOULD-NOT-LEAK' }),
    );
  await call('notes', member.key, session, 'tools/call', toolCall('delete_note', { id: 999 })); // a tool error
  const readerSession = await openSession('notes', reader.key);
  const denied = await call('notes', reader.key, readerSession, 'tools/call', toolCall('add_note', { title: 'nope' }));
  expect(denied.message.error.code).toBe(-32003);
  // initialize x2, tools/call x7 (one denied), and the tools/call filter below sees 7.
  await waitForEvents(t.id, 'action=tools/call', (e) => e.length >= 7);
  return { t, member, admin, reader };
}

describe('audit query API', { timeout: 120_000 }, () => {
  it('filters by action, result, server, user and time; pages with a stable cursor; redacts secrets', async () => {
    const { t, member, reader } = await tenantWithTraffic();
    const all = (await auditQuery(`/tenants/${t.id}/audit?server=notes&limit=5000`)).body.events;
    expect(all.length).toBeGreaterThanOrEqual(9);
    const times = all.map((e: any) => e.time);
    expect([...times].sort((x, y) => y - x)).toEqual(times); // newest first

    const denied = (await auditQuery(`/tenants/${t.id}/audit?result=denied`)).body.events;
    expect(denied.filter((e: any) => e.action === 'tools/call')).toHaveLength(1);
    expect(denied[0]).toMatchObject({ user: `key:${reader.id}`, resource: 'add_note', result: 'denied' });
    const errors = (await auditQuery(`/tenants/${t.id}/audit?result=error&action=tools/call`)).body.events;
    expect(errors.map((e: any) => e.resource)).toEqual(['delete_note']);
    const mine = (await auditQuery(`/tenants/${t.id}/audit?user=key:${member.id}&action=tools/call`)).body.events;
    expect(mine).toHaveLength(6);
    const future = (await auditQuery(`/tenants/${t.id}/audit?from=${Date.now() + DAY}`)).body.events;
    expect(future).toEqual([]);
    const window = (await auditQuery(`/tenants/${t.id}/audit?from=${times[times.length - 1]}&to=${times[0] + 1}&server=notes&limit=5000`)).body.events;
    expect(window).toHaveLength(all.length);

    // Pagination: pages of 2 cover everything once, in order.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = (await auditQuery(`/tenants/${t.id}/audit?server=notes&limit=2${cursor ? `&cursor=${cursor}` : ''}`)).body;
      expect(page.events.length).toBeLessThanOrEqual(2);
      seen.push(...page.events.map((e: any) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.map((e: any) => e.id));

    // Secrets: by name (api_token) and by the author's mark (notes marks `body` sensitive).
    const text = JSON.stringify(all);
    expect(text).not.toContain('sk-live-SHOULD-NOT-LEAK');
    expect(text).not.toContain('private body');
    const added = all.find((e: any) => e.resource === 'add_note' && e.result === 'ok');
    expect(added.details.arguments).toMatchObject({ title: expect.stringMatching(/^n\d$/), body: '[redacted]', api_token: '[redacted]' });
  });

  it('exports JSON Lines and CSV with the same events, and rejects bad filters with 400', async () => {
    const { t } = await tenantWithTraffic();
    const json = (await auditQuery(`/tenants/${t.id}/audit?action=tools/call`)).body.events;
    const headers = { authorization: 'Bearer test-operator-token-0123456789' };
    const jsonl = await SELF.fetch(`${ORIGIN}/admin/api/tenants/${t.id}/audit?action=tools/call&format=jsonl`, { headers });
    expect(jsonl.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await jsonl.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((e) => e.id)).toEqual(json.map((e: any) => e.id));
    const csv = await SELF.fetch(`${ORIGIN}/admin/api/tenants/${t.id}/audit?action=tools/call&format=csv`, { headers });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const rows = (await csv.text()).trim().split('\r\n');
    expect(rows[0]).toBe('id,time,tenant,action,result,user,client,session,server,resource,latencyMs,correlationId,ip,details');
    expect(rows).toHaveLength(json.length + 1);
    expect(rows[1]!.startsWith(`${json[0].id},`)).toBe(true);

    for (const bad of ['result=maybe', 'limit=0', 'limit=99999', 'from=yesterday', 'cursor=xyz', 'format=xml']) {
      const res = await auditQuery(`/tenants/${t.id}/audit?${bad}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
    }
  });

  it('confines tenant admins to their own trail; the operator sees every tenant and platform-level events', async () => {
    const a = await tenantWithTraffic();
    const b = await seedTenant(['notes']);
    const bAdmin = await createKey(b.id, 'admin');
    const bMember = await createKey(b.id, 'member');
    expect((await auditQuery(`/tenants/${a.t.id}/audit`, bAdmin.key)).status).toBe(404);
    expect((await auditQuery(`/tenants/${a.t.id}/metrics`, bAdmin.key)).status).toBe(404);
    expect((await auditQuery(`/tenants/${b.id}/audit`, bMember.key)).status).toBe(403);
    expect((await auditQuery('/audit', bAdmin.key)).status).toBe(403);
    expect((await auditQuery('/metrics', bAdmin.key)).status).toBe(403);
    // A tenant admin's own view holds only its own tenant, even when asking for another.
    const own = await auditQuery(`/tenants/${a.t.id}/audit?tenant=${b.id}`, a.admin.key);
    expect(own.status).toBe(200);
    expect(own.body.events.every((e: any) => e.tenant === a.t.id)).toBe(true);
    // The refused cross-tenant read is itself audited, under the caller's tenant.
    await waitForEvents(b.id, 'result=denied', (e) => e.some((x) => x.details?.reason === 'tenant admin outside its tenant'));
    const platform = await auditQuery(`/audit?tenant=${a.t.id}&action=tools/call`);
    expect(platform.body.events.length).toBe(7);
  });

  it('records sign-in (success and failure), consent, token issue and admin changes', async () => {
    const t = await seedTenant(['notes'], ['member']);
    await obtainToken(t.accounts.member!, 'notes');
    const events = await waitForEvents(t.id, '', (e) =>
      ['auth.sign_in', 'auth.consent', 'oauth.token', 'admin.user.create', 'admin.tenant.create'].every((a) =>
        e.some((x) => x.action === a && x.result === 'ok'),
      ),
    );
    const userId = events.find((e) => e.action === 'auth.sign_in').user;
    expect(events.find((e) => e.action === 'oauth.token').user).toBe(userId);

    // A wrong password, through the real sign-in form: audited as a platform-level denial naming the email tried.
    const client = await registerClient();
    const { url } = await authorizationRequest(ORIGIN, client, `${ORIGIN}/servers/notes/mcp`);
    const browser = new FormBrowser((input, init) => SELF.fetch(input, init));
    const page = await (await browser.get(url)).text();
    const failed = await browser.post(formAction(page, url), {
      csrf: inputValue(page, 'csrf'),
      email: t.accounts.member!.email,
      password: 'Wrong-Password-123',
    });
    expect(failed.status).toBe(401);
    for (let i = 0; ; i++) {
      const res = await auditQuery('/audit?tenant=_platform&action=auth.sign_in&result=denied&limit=5000');
      const hit = res.body.events.find((e: any) => e.user === t.accounts.member!.email);
      if (hit) {
        expect(hit).toMatchObject({ tenant: null, resource: 'notes', details: { reason: 'sign-in failed' } });
        expect(JSON.stringify(hit)).not.toContain('Wrong-Password-123');
        break;
      }
      expect(i, 'failed sign-in never reached the audit trail').toBeLessThan(120);
      await new Promise((r) => setTimeout(r, 250));
    }
  });

  it('exports each finished day to R2, then keeps events for the tenant retention period and deletes older ones on the schedule', async () => {
    const short = await tenantWithTraffic();
    const long = await tenantWithTraffic();
    expect((await adminCall('PUT', `/tenants/${short.t.id}/audit/retention`, { days: 1 })).status).toBe(200);
    expect((await adminCall('GET', `/tenants/${short.t.id}/audit/retention`)).body).toEqual({ days: 1 });
    expect((await adminCall('PUT', `/tenants/${short.t.id}/audit/retention`, { days: 0 })).status).toBe(400);
    // Both tenants have events from two days ago (their own day shard).
    const old = Date.now() - 2 * DAY;
    const oldDay = new Date(old).toISOString().slice(0, 10);
    for (const tenant of [short.t.id, long.t.id]) {
      await seedStoreEvents(tenant, [
        { time: old, action: 'initialize', server: 'notes' },
        { time: old + 1, action: 'tools/call', server: 'notes', details: { n: 1 } },
      ]);
    }
    const ctx = createExecutionContext();
    await worker.scheduled!(createScheduledController({ scheduledTime: Date.now(), cron: '17 3 * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    const shortLeft = (await auditQuery(`/tenants/${short.t.id}/audit?limit=5000`)).body.events;
    const longLeft = (await auditQuery(`/tenants/${long.t.id}/audit?limit=5000`)).body.events;
    expect(shortLeft.some((e: any) => e.time === old)).toBe(false);
    expect(shortLeft.some((e: any) => e.action === 'tools/call')).toBe(true); // today's stay
    expect(longLeft.filter((e: any) => e.time === old || e.time === old + 1)).toHaveLength(2);

    // The expired day was exported before it went: listed and downloadable, for either tenant.
    for (const tenant of [short.t.id, long.t.id]) {
      const list = await adminCall('GET', `/tenants/${tenant}/audit/exports`);
      expect(list.status).toBe(200);
      expect(list.body.exports.map((x: any) => x.date)).toEqual([oldDay]); // today is not finished, so not exported yet
      const file = await SELF.fetch(`${ORIGIN}/admin/api/tenants/${tenant}/audit/exports/${oldDay}`, { headers: { authorization: `Bearer ${OPERATOR}` } });
      expect(file.headers.get('content-type')).toContain('application/x-ndjson');
      const lines = (await file.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((e) => [e.tenant, e.action, e.time])).toEqual([
        [tenant, 'initialize', old],
        [tenant, 'tools/call', old + 1],
      ]);
    }
    // A tenant admin reads its own exports only; bad dates are a 400, missing days a 404.
    expect((await auditQuery(`/tenants/${short.t.id}/audit/exports`, short.admin.key)).status).toBe(200);
    expect((await auditQuery(`/tenants/${long.t.id}/audit/exports`, short.admin.key)).status).toBe(404);
    expect((await auditQuery(`/tenants/${long.t.id}/audit/exports/${oldDay}`, short.admin.key)).status).toBe(404);
    expect((await auditQuery(`/tenants/${short.t.id}/audit/exports/yesterday`)).status).toBe(400);
    expect((await auditQuery(`/tenants/${short.t.id}/audit/exports/2001-01-01`)).status).toBe(404);
  });
});

describe('metrics', { timeout: 120_000 }, () => {
  it('reports requests, errors, denials and latency percentiles per server, and active sessions', async () => {
    const { t } = await tenantWithTraffic();
    const res = await auditQuery(`/tenants/${t.id}/metrics?window=60&bucket=5`);
    expect(res.status).toBe(200);
    const notes = res.body.servers.find((s: any) => s.server === 'notes');
    // initialize x2 + tools/call x7 (+ any tools/list the client made): every request of the window.
    const requests = (await auditQuery(`/tenants/${t.id}/audit?server=notes&limit=5000`)).body.events.length;
    expect(notes).toMatchObject({ tenant: t.id, requests, errors: 1, denials: 1, rateLimited: 0 });
    for (const p of ['p50', 'p95', 'p99']) expect(typeof notes[p]).toBe('number');
    expect(notes.p50).toBeLessThanOrEqual(notes.p95);
    expect(notes.p95).toBeLessThanOrEqual(notes.p99);
    expect(res.body.activeSessions).toBe(2);
    expect(res.body.series.reduce((n: number, p: any) => n + p.requests, 0)).toBe(requests);

    const platform = await auditQuery('/metrics?window=120&bucket=60');
    expect(platform.body.servers.some((s: any) => s.tenant === t.id && s.requests === requests)).toBe(true);
    for (const bad of ['window=0', 'bucket=-1', 'window=10&bucket=20', 'window=43200&bucket=1']) {
      expect((await auditQuery(`/tenants/${t.id}/metrics?${bad}`)).status, bad).toBe(400);
    }
  });
});

describe('health and correlation', () => {
  it('reports each dependency with its latency, without tenant data', async () => {
    const t = await seedTenant(['notes']);
    const res = await SELF.fetch(`${ORIGIN}/health`);
    expect(res.status).toBe(200);
    const body: any = await res.json();
    expect(body.status).toBe('ok');
    for (const dep of ['kv', 'd1', 'durableObjects']) {
      expect(body.dependencies[dep].status).toBe('ok');
      expect(typeof body.dependencies[dep].latencyMs).toBe('number');
    }
    expect(JSON.stringify(body)).not.toContain(t.id);
  });

  it('answers every response with a correlation id, keeping a well-formed one the client sent', async () => {
    const own = await SELF.fetch(`${ORIGIN}/nowhere`, { headers: { 'x-correlation-id': 'client-trace-12345' } });
    expect(own.status).toBe(404);
    expect(own.headers.get('x-correlation-id')).toBe('client-trace-12345');
    const hostile = await SELF.fetch(`${ORIGIN}/health`, { headers: { 'x-correlation-id': '=cmd|"/c calc"!A0 <script>' } });
    expect(hostile.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
