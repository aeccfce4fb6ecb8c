import { createExecutionContext, createScheduledController, env, SELF, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../../src/index';
import { deliverToStores } from '../../src/audit/audit-store';
import { auditEvent, auditQuery, seedStoreEvents } from './audit-support';
import { createKey, OPERATOR, ORIGIN, seedTenant } from './platform-client';

const DAY = 86_400_000;
const HOUR = 3_600_000;

async function runCron(): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled!(createScheduledController({ scheduledTime: Date.now(), cron: '17 3 * * *' }), env, ctx);
  await waitOnExecutionContext(ctx);
}

async function download(path: string): Promise<{ status: number; lines: Array<{ id: string; time: number }> }> {
  const res = await SELF.fetch(`${ORIGIN}/admin/api${path}`, { headers: { authorization: `Bearer ${OPERATOR}` } });
  const text = await res.text();
  return {
    status: res.status,
    lines: res.ok
      ? text
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [],
  };
}

describe('daily audit exports across tenant incarnations', { timeout: 120_000 }, () => {
  it('shows a tenant only the exported events since its creation; the operator reads every scope', async () => {
    const t = await seedTenant(['notes']);
    const dayStart = Math.floor((Date.now() - 2 * DAY) / DAY) * DAY;
    const date = new Date(dayStart).toISOString().slice(0, 10);
    const [early, late] = await seedStoreEvents(t.id, [
      { time: dayStart + HOUR, server: 'notes' },
      { time: dayStart + 5 * HOUR, server: 'notes' },
    ]);
    await deliverToStores(env, [auditEvent({ time: dayStart + 2 * HOUR, tenant: null, action: 'auth.sign_in', result: 'denied', user: 'x@example.com' })]);
    await runCron();

    // The tenant as it is: the whole day.
    expect((await auditQuery(`/tenants/${t.id}/audit/exports`)).body.exports.map((x: any) => x.date)).toEqual([date]);
    expect((await download(`/tenants/${t.id}/audit/exports/${date}`)).lines.map((e) => e.id)).toEqual([early!.id, late!.id]);

    // Re-created in the middle of that day: the day is listed, the earlier incarnation's line is not served.
    await env.DB.prepare('UPDATE tenants SET created_at = ? WHERE id = ?')
      .bind(dayStart + 3 * HOUR, t.id)
      .run();
    expect((await download(`/tenants/${t.id}/audit/exports/${date}`)).lines.map((e) => e.id)).toEqual([late!.id]);
    expect((await auditQuery(`/tenants/${t.id}/audit?limit=5000`)).body.events.some((e: any) => e.id === early!.id)).toBe(false);

    // Re-created today: that day is neither listed nor served, nor in its metrics.
    await env.DB.prepare('UPDATE tenants SET created_at = ? WHERE id = ?').bind(Date.now(), t.id).run();
    expect((await auditQuery(`/tenants/${t.id}/audit/exports`)).body.exports).toEqual([]);
    expect((await download(`/tenants/${t.id}/audit/exports/${date}`)).status).toBe(404);
    const metrics = (await auditQuery(`/tenants/${t.id}/metrics?window=4320&bucket=1440`)).body;
    expect(metrics.servers.filter((s: any) => s.server === 'notes')).toEqual([]);

    // The operator keeps every incarnation's file and the platform scope's.
    expect((await auditQuery(`/audit/exports?tenant=${t.id}`)).body.exports.map((x: any) => x.date)).toEqual([date]);
    expect((await download(`/audit/exports/${date}?tenant=${t.id}`)).lines.map((e) => e.id)).toEqual([early!.id, late!.id]);
    expect((await auditQuery('/audit/exports?tenant=_platform')).body.exports.map((x: any) => x.date)).toContain(date);
    expect((await download(`/audit/exports/${date}?tenant=_platform`)).lines.some((e: any) => e.user === 'x@example.com')).toBe(true);
    for (const bad of ['/audit/exports', '/audit/exports?tenant=../x', `/audit/exports/yesterday?tenant=${t.id}`]) {
      expect((await auditQuery(bad)).status, bad).toBe(400);
    }
    const admin = await createKey(t.id, 'admin');
    expect((await auditQuery(`/audit/exports?tenant=${t.id}`, admin.key)).status).toBe(403);
  });

  it('streams a day larger than one multipart part (5 MiB) into one complete file, in order', async () => {
    const t = await seedTenant(['notes']);
    const dayStart = Math.floor((Date.now() - 2 * DAY) / DAY) * DAY;
    const date = new Date(dayStart).toISOString().slice(0, 10);
    const pad = 'p'.repeat(400);
    const seeded: string[] = [];
    for (let batch = 0; batch < 4; batch++) {
      const events = await seedStoreEvents(
        t.id,
        Array.from({ length: 4000 }, (_, i) => ({ time: dayStart + batch * 4000 + i, server: 'notes', details: { pad } })),
      );
      seeded.push(...events.map((e) => e.id));
    }
    await runCron();
    const list = (await auditQuery(`/tenants/${t.id}/audit/exports`)).body.exports;
    expect(list).toHaveLength(1);
    expect(list[0].size).toBeGreaterThan(5 * 1024 * 1024);
    const file = await download(`/tenants/${t.id}/audit/exports/${date}`);
    expect(file.lines.map((e) => e.id)).toEqual(seeded);
  });
});
