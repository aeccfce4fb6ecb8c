import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { waitForEvents } from './audit-support';
import { envelope, MODERN } from './modern-client';
import { createKey, ORIGIN, seedTenant } from './platform-client';

/** The per-tenant bound of src/modern/listen-streams.ts. */
const BOUND = 16;

/** Open a `subscriptions/listen` stream; the body is left unread so the stream stays open. */
async function listen(key: string, marker: string): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/servers/everything/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': 'subscriptions/listen',
      authorization: `Bearer ${key}`,
      'x-correlation-id': marker,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: { notifications: { toolsListChanged: true }, _meta: envelope() } }),
  });
}

describe('subscriptions/listen streams in the 2026-07-28 lane', () => {
  it("bounds each tenant's open listen streams, refuses the next with 429 (audited once), leaves other tenants alone and frees a slot when a stream ends", async () => {
    const a = await seedTenant(['everything']);
    const b = await seedTenant(['everything']);
    const { key: keyA } = await createKey(a.id, 'member');
    const { key: keyB } = await createKey(b.id, 'member');
    const marker = `listen-${crypto.randomUUID()}`;

    const held: Response[] = [];
    for (let i = 0; i < BOUND; i++) {
      const res = await listen(keyA, marker);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      held.push(res);
    }
    // The first message of every stream is the acknowledgement.
    const first = new TextDecoder().decode((await held[0]!.body!.getReader().read()).value);
    expect(first).toContain('notifications/subscriptions/acknowledged');

    const refused = await listen(keyA, marker);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await refused.json()) as { error: { code: number; message: string } };
    expect(body.error.message).toContain('subscriptions/listen');

    // Another tenant is not affected by tenant A's streams.
    const other = await listen(keyB, marker);
    expect(other.status).toBe(200);
    await other.body!.cancel();

    // Ending one of A's streams gives its slot back.
    await held[1]!.body!.cancel();
    let reopened: Response | undefined;
    let refusals = 1;
    for (let attempt = 0; attempt < 50 && reopened?.status !== 200; attempt++) {
      if (reopened) {
        refusals++;
        await reopened.body?.cancel();
      }
      await new Promise((r) => setTimeout(r, 20));
      reopened = await listen(keyA, marker);
    }
    expect(reopened!.status).toBe(200);
    held.push(reopened!);

    // Exactly one event per stream opened and per refusal, in tenant A's trail.
    const mine = (events: any[]) => events.filter((e) => e.correlationId === marker);
    const events = mine(
      await waitForEvents(
        a.id,
        'action=subscriptions/listen',
        (all) => mine(all).filter((e) => e.result === 'ok').length >= BOUND + 1 && mine(all).filter((e) => e.result === 'rate_limited').length >= refusals,
      ),
    );
    expect(events.filter((e) => e.result === 'rate_limited')).toHaveLength(refusals);
    expect(events.filter((e) => e.result === 'ok')).toHaveLength(BOUND + 1);
    for (const res of held) await res.body?.cancel().catch(() => undefined);
  });
});
