import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/audit-event';
import { deliverToStores } from '../../src/audit/audit-store';
import { auditEvent, auditQuery, seedStoreEvents } from './audit-support';
import { seedTenant } from './platform-client';

const DAY = 86_400_000;

/**
 * The operator's cross-tenant view: one page from every scope's store (tenants and the platform
 * scope), merged newest first, with a cursor that continues the merged order exactly, across
 * tenants and across day shards.
 */
describe('operator audit view across tenants', { timeout: 60_000 }, () => {
  it('pages through every scope in one merged order with a global cursor', async () => {
    const a = await seedTenant(['notes']);
    const b = await seedTenant(['notes']);
    const marker = `usr_fanout_${crypto.randomUUID().slice(0, 8)}`;
    const now = Date.now();
    // Interleaved times over three days: a, b and the platform scope alternate, some on the same millisecond.
    const times = Array.from({ length: 30 }, (_, i) => now - Math.floor(i / 2) * Math.floor(DAY / 7));
    const seeded: AuditEvent[] = [];
    seeded.push(
      ...(await seedStoreEvents(
        a.id,
        times.filter((_, i) => i % 3 === 0).map((time) => ({ time, user: marker })),
      )),
    );
    seeded.push(
      ...(await seedStoreEvents(
        b.id,
        times.filter((_, i) => i % 3 === 1).map((time) => ({ time, user: marker })),
      )),
    );
    const platform = times
      .filter((_, i) => i % 3 === 2)
      .map((time) => auditEvent({ time, tenant: null, action: 'auth.sign_in', result: 'denied', user: marker }));
    await deliverToStores(env, platform);
    seeded.push(...platform);
    const expected = seeded.sort((x, y) => y.time - x.time || (x.id < y.id ? 1 : -1)).map((e) => e.id);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await auditQuery(`/audit?user=${marker}&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const page: any = res.body;
      expect(page.events.length).toBeLessThanOrEqual(4);
      seen.push(...page.events.map((e: AuditEvent) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(expected);
    // A tenant admin's path-scoped view of the same user holds only its own tenant's events.
    const own = (await auditQuery(`/tenants/${a.id}/audit?user=${marker}&limit=100`)).body.events;
    expect(own.every((e: AuditEvent) => e.tenant === a.id)).toBe(true);
    expect(own).toHaveLength(10);
  });
});
