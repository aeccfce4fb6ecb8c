import { describe, expect, it } from 'vitest';
import { FREE_REFUSALS, MAX_TARPIT_MS, tarpitMs } from '../../src/limits/deny-cache';
import { waitForEvents } from './audit-support';
import { adminCall, createKey, mcpPost, openSession, seedTenant } from './platform-client';

const ping = (id: number) => ({ jsonrpc: '2.0', id, method: 'ping' });

/** Start well inside a minute, so the refused window does not end during the test. */
async function awayFromMinuteEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 30_000) await new Promise((r) => setTimeout(r, left + 200));
}

async function status(key: string, session?: string, id = 1): Promise<Response> {
  const res = await mcpPost('notes', key, ping(id), session);
  return res;
}

describe('refusals that cost nothing (src/limits/deny-cache.ts)', () => {
  it('a token refused for its rate is refused again before authentication until its window ends; other callers are untouched; each refusal audited once', async () => {
    const { id } = await seedTenant(['notes']);
    const hot = await createKey(id, 'member');
    const calm = await createKey(id, 'member');
    expect((await adminCall('PATCH', `/tenants/${id}/keys/${hot.id}`, { limits: { perMinute: 4 } })).status).toBe(200);
    await awayFromMinuteEdge();
    const session = await openSession('notes', hot.key); // 2 of its 4
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await status(hot.key, session, i);
      statuses.push(res.status);
      await res.body?.cancel();
    }
    expect(statuses).toEqual([200, 200, 429, 429, 429]);

    // Revoke the key: were the token still looked up, it would now be 401. It is answered from the
    // memo instead (no D1 read, no body read, no limiter call), with the same truthful Retry-After.
    expect((await adminCall('DELETE', `/tenants/${id}/keys/${hot.id}`)).status).toBeLessThan(300);
    const memo = await status(hot.key, session, 9);
    expect(memo.status).toBe(429);
    const body = (await memo.json()) as { error: { code: number; message: string } };
    expect(body.error.message).toBe('Rate limit exceeded: this API key may make 4 requests per minute');
    const retryAfter = Number(memo.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60 - Math.floor((Date.now() % 60_000) / 1000) + 1);
    // Variants: the same token in a session-less request, and without the session, are refused the same way.
    expect((await status(hot.key)).status).toBe(429);

    // A token that keeps hammering past its first refusals is answered later (on a timer, no CPU), each answer still a truthful 429.
    for (let i = 0; i < 12; i++) {
      const res = await status(hot.key, session, 20 + i);
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      await res.body?.cancel();
    }

    // Nobody else is refused by it: a made-up token naming the same tenant is unauthenticated as
    // ever, and the tenant's other key is served.
    const forged = `smcp_${id}_${'x'.repeat(43)}`;
    expect((await status(forged)).status).toBe(401);
    const calmSession = await openSession('notes', calm.key);
    expect((await status(calm.key, calmSession)).status).toBe(200);

    // Every refusal, from the limiter or from the memo, is audited once (coalesced counts add up to the 429s).
    const events = await waitForEvents(id, 'action=limit.api_key', (e) => e.reduce((n, x) => n + x.details.count, 0) >= 17);
    expect(events.reduce((n, e) => n + e.details.count, 0)).toBe(17);
    expect(events.every((e) => e.result === 'rate_limited' && e.client === hot.id)).toBe(true);
  });

  it('holds the answers of a token that keeps hammering: none for the first refusals, then growing to a cap', () => {
    expect(Array.from({ length: FREE_REFUSALS }, (_, i) => tarpitMs(i + 1))).toEqual(Array(FREE_REFUSALS).fill(0));
    expect(tarpitMs(FREE_REFUSALS + 1)).toBe(20);
    expect(tarpitMs(FREE_REFUSALS + 5)).toBe(100);
    expect(tarpitMs(10_000)).toBe(MAX_TARPIT_MS);
  });

  it('a raised limit applies at once in the isolate that changed it', async () => {
    const { id } = await seedTenant(['notes']);
    const key = await createKey(id, 'member');
    expect((await adminCall('PATCH', `/tenants/${id}/keys/${key.id}`, { limits: { perMinute: 2 } })).status).toBe(200);
    await awayFromMinuteEdge();
    const session = await openSession('notes', key.key);
    expect((await status(key.key, session)).status).toBe(429);
    expect((await status(key.key, session)).status).toBe(429);
    expect((await adminCall('PATCH', `/tenants/${id}/keys/${key.id}`, { limits: { perMinute: 100 } })).status).toBe(200);
    expect((await status(key.key, session)).status).toBe(200);
  });
});
