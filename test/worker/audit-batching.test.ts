import { describe, expect, it } from 'vitest';
import { AppendBatcher } from '../../src/audit/append-batcher';
import type { AuditEvent } from '../../src/audit/audit-event';
import { waitForEvents } from './audit-support';
import { modernCall, textOf } from './modern-client';
import { createKey, seedTenant } from './platform-client';

const event = (n: number) => ({ id: `e${n}`, action: 'tools/call' }) as unknown as AuditEvent;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stand-in outbox: records each append's events after a delay, or fails. */
function outbox(delayMs = 5, fail = false) {
  const calls: string[][] = [];
  return {
    calls,
    send: async (events: AuditEvent[]) => {
      await sleep(delayMs);
      if (fail) throw new Error('outbox unavailable');
      calls.push(events.map((e) => (e as unknown as { id: string }).id));
    },
  };
}

describe('audit append batching (per isolate, per tenant)', () => {
  it('a burst of concurrent events is two appends (the first at once, the rest together); every caller resolves after its own, every event exactly once', async () => {
    const batcher = new AppendBatcher();
    const box = outbox();
    let settled = 0;
    await Promise.all(Array.from({ length: 50 }, (_, i) => batcher.append('t1', event(i), box.send).then(() => void settled++)));
    expect(settled).toBe(50);
    expect(box.calls.map((c) => c.length)).toEqual([1, 49]);
    expect(box.calls.flat().sort()).toEqual(Array.from({ length: 50 }, (_, i) => `e${i}`).sort());
  });

  it('events arriving while an append is in flight wait for it and go in the next ones, capped per append', async () => {
    const batcher = new AppendBatcher(10);
    const box = outbox(20);
    const first = batcher.append('t1', event(0), box.send);
    await sleep(1);
    const later = Array.from({ length: 25 }, (_, i) => batcher.append('t1', event(i + 1), box.send));
    let firstDone = false;
    void first.then(() => (firstDone = true));
    await Promise.all([first, ...later]);
    expect(firstDone).toBe(true);
    expect(box.calls.map((c) => c.length).sort((a, b) => a - b)).toEqual([1, 5, 10, 10]);
    expect(box.calls[0]).toEqual(['e0']);
    expect(box.calls.flat().sort()).toEqual(Array.from({ length: 26 }, (_, i) => `e${i}`).sort());
  });

  it("starts a shard's appends at least the minimum interval apart: events of back-to-back calls share an append, a lone event goes at once", async () => {
    const batcher = new AppendBatcher(100, 1000);
    const box = outbox(1);
    await batcher.append('t1', event(0), box.send);
    expect(box.calls).toEqual([['e0']]);
    const later: Promise<void>[] = [];
    for (let i = 1; i <= 4; i++) {
      later.push(batcher.append('t1', event(i), box.send));
      await sleep(1);
    }
    expect(box.calls).toHaveLength(1); // within the interval nothing more is sent
    await Promise.all(later);
    expect(box.calls).toEqual([['e0'], ['e1', 'e2', 'e3', 'e4']]);
    // Another shard is not held back by this one's interval.
    await batcher.append('t2', event(5), box.send);
    expect(box.calls.at(-1)).toEqual(['e5']);
  });

  it('tenants are batched apart, and a failed append fails every caller whose event it carried (none is reported durable)', async () => {
    const batcher = new AppendBatcher();
    const good = outbox();
    const bad = outbox(5, true);
    const results = await Promise.allSettled([
      ...Array.from({ length: 3 }, (_, i) => batcher.append('a', event(i), good.send)),
      ...Array.from({ length: 4 }, (_, i) => batcher.append('b', event(10 + i), bad.send)),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected', 'rejected']);
    expect(good.calls.flat()).toEqual(['e0', 'e1', 'e2']);
    expect(good.calls).toHaveLength(2);
    // The shard recovers: the next event is sent on its own.
    await batcher.append('b', event(99), good.send);
    expect(good.calls.at(-1)).toEqual(['e99']);
  });

  it('N concurrent stateless calls through the lane are exactly N audit events', async () => {
    const { id } = await seedTenant(['everything']);
    const { key } = await createKey(id, 'member');
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => modernCall('everything', key, 'tools/call', { name: 'test_simple_text', arguments: {} })),
    );
    for (const a of answers) expect(textOf(a.message)).toContain('simple text');
    await waitForEvents(id, 'action=tools/call', (e) => e.length >= 20);
    await sleep(1000); // nothing more arrives
    const events = await waitForEvents(id, 'action=tools/call', () => true);
    expect(events).toHaveLength(20);
    expect(new Set(events.map((e: any) => e.correlationId)).size).toBe(20);
  });
});
