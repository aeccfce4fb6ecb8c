import { describe, expect, it } from 'vitest';
import { AppendBatcher, type AppendSink } from '../../src/audit/append-batcher';
import type { AuditEvent } from '../../src/audit/audit-event';
import { waitForEvents } from './audit-support';
import { modernCall, textOf } from './modern-client';
import { createKey, seedTenant } from './platform-client';

const event = (n: number) => ({ id: `e${n}`, action: 'tools/call' }) as unknown as AuditEvent;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A stand-in outbox: records each append's events after a delay, or fails; `kept` holds what failed appends handed back. */
function outbox(delayMs = 5, fail = false) {
  const calls: string[][] = [];
  const kept: string[][] = [];
  const ids = (events: AuditEvent[]) => events.map((e) => (e as unknown as { id: string }).id);
  const sink: AppendSink = {
    send: async (events) => {
      await sleep(delayMs);
      if (fail) throw new Error('outbox unavailable');
      calls.push(ids(events));
    },
    failed: (events) => void kept.push(ids(events)),
  };
  return { calls, kept, sink };
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `e${from + i}`);

describe('audit append batching (per isolate, per tenant)', () => {
  it('a burst of concurrent events is two appends (the first at once, the rest together); every event exactly once', async () => {
    const batcher = new AppendBatcher();
    const box = outbox();
    await Promise.all(Array.from({ length: 50 }, (_, i) => batcher.append('t1', event(i), box.sink)));
    expect(box.calls.map((c) => c.length)).toEqual([1, 49]);
    expect(box.calls.flat().sort()).toEqual(range(50).sort());
  });

  it('a carried event returns at once; the sender returns once its append is done', async () => {
    const batcher = new AppendBatcher({ minIntervalMs: 30 });
    const box = outbox(20);
    await batcher.append('t1', event(0), box.sink); // the shard is now inside its interval
    const sender = batcher.append('t1', event(1), box.sink);
    let sent = false;
    void sender.then(() => (sent = true));
    const started = Date.now();
    await batcher.append('t1', event(2), box.sink);
    expect(Date.now() - started).toBeLessThan(20);
    expect(sent).toBe(false);
    await sender;
    expect(box.calls).toEqual([['e0'], ['e1', 'e2']]);
  });

  it('events arriving while an append is in flight wait for it and go in the next ones, capped per append', async () => {
    const batcher = new AppendBatcher({ maxEvents: 10 });
    const box = outbox(20);
    const first = batcher.append('t1', event(0), box.sink);
    await sleep(1);
    const later = Array.from({ length: 25 }, (_, i) => batcher.append('t1', event(i + 1), box.sink));
    await Promise.all([first, ...later]);
    expect(box.calls.map((c) => c.length).sort((a, b) => a - b)).toEqual([1, 5, 10, 10]);
    expect(box.calls[0]).toEqual(['e0']);
    expect(box.calls.flat().sort()).toEqual(range(26).sort());
  });

  it("starts a shard's appends at least the minimum interval apart: events of back-to-back calls share an append, a lone event goes at once", async () => {
    const batcher = new AppendBatcher({ minIntervalMs: 1000 });
    const box = outbox(1);
    await batcher.append('t1', event(0), box.sink);
    expect(box.calls).toEqual([['e0']]);
    const later: Promise<void>[] = [];
    for (let i = 1; i <= 4; i++) {
      later.push(batcher.append('t1', event(i), box.sink));
      await sleep(1);
    }
    expect(box.calls).toHaveLength(1); // within the interval nothing more is sent
    await Promise.all(later);
    expect(box.calls).toEqual([['e0'], ['e1', 'e2', 'e3', 'e4']]);
    // Another shard is not held back by this one's interval.
    await batcher.append('t2', event(5), box.sink);
    expect(box.calls.at(-1)).toEqual(['e5']);
  });

  it("tenants are batched apart, and a failed append hands every event it carried to its sender's sink, once", async () => {
    const batcher = new AppendBatcher();
    const good = outbox();
    const bad = outbox(5, true);
    const results = await Promise.allSettled([
      ...Array.from({ length: 3 }, (_, i) => batcher.append('a', event(i), good.sink)),
      ...Array.from({ length: 4 }, (_, i) => batcher.append('b', event(10 + i), bad.sink)),
    ]);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true); // never rejects: the sink decides
    expect(good.calls.flat()).toEqual(['e0', 'e1', 'e2']);
    expect(good.calls).toHaveLength(2);
    expect(good.kept).toEqual([]);
    expect(bad.calls).toEqual([]);
    expect(bad.kept.flat().sort()).toEqual(range(4, 10).sort());
    expect(bad.kept).toHaveLength(2); // e10 alone, then e11-e13 together
    // The shard recovers: the next event is sent on its own.
    await batcher.append('b', event(99), good.sink);
    expect(good.calls.at(-1)).toEqual(['e99']);
  });

  it('a batch whose sender vanished before sending (its timers never fire) is sent by the next event of its shard', async () => {
    let vanish = true;
    const never = new Promise<void>(() => {});
    const batcher = new AppendBatcher({ minIntervalMs: 30, abandonedMs: 100, sleep: (ms) => (vanish ? never : sleep(ms)) });
    const box = outbox(1);
    vanish = false;
    await batcher.append('t1', event(0), box.sink);
    vanish = true; // the next sender's request dies while it waits out the interval
    void batcher.append('t1', event(1), box.sink);
    await batcher.append('t1', event(2), box.sink); // carried: returns at once, nothing sent yet
    vanish = false;
    await sleep(50);
    await batcher.append('t1', event(3), box.sink); // the batch is not abandoned yet: carried
    expect(box.calls).toEqual([['e0']]);
    await sleep(120);
    await batcher.append('t1', event(4), box.sink); // now it is: this caller sends it
    expect(box.calls).toEqual([['e0'], ['e1', 'e2', 'e3', 'e4']]);
  });

  it('an append that never settles (its sender vanished mid-call) is sent again with the next batch, and the shard goes on', async () => {
    const batcher = new AppendBatcher({ minIntervalMs: 1, stuckMs: 150 });
    const box = outbox(1);
    const hung: AppendSink = { send: () => new Promise<void>(() => {}), failed: () => {} };
    void batcher.append('t1', event(0), hung);
    await sleep(5);
    const started = Date.now();
    await batcher.append('t1', event(1), box.sink);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(box.calls).toEqual([['e0', 'e1']]);
    await batcher.append('t1', event(2), box.sink);
    expect(box.calls.at(-1)).toEqual(['e2']);
  });

  it('drain waiting on an append presumed lost resolves once the batch that took its events over is appended, not at its own bound', async () => {
    const batcher = new AppendBatcher({ minIntervalMs: 1, stuckMs: 300 });
    const box = outbox(1);
    const hung: AppendSink = { send: () => new Promise<void>(() => {}), failed: () => {} };
    const began = Date.now();
    void batcher.append('t1', event(0), hung); // its sender vanishes mid-call: never settles
    await sleep(250);
    let drained = 0;
    const draining = batcher.drain('t1', box.sink).then(() => (drained = Date.now() - began));
    await sleep(40);
    expect(drained).toBe(0); // still waiting: e0 is nowhere yet
    await sleep(25);
    await batcher.append('t1', event(1), box.sink); // the hung append is over 300 ms old: this batch takes e0 over
    expect(box.calls).toEqual([['e0', 'e1']]);
    await draining;
    // Settled with the batch that carried e0 (about 320 ms), not at the drain's own bound (250 + 300 ms).
    expect(drained).toBeLessThan(470);
  });

  it('drain resolves once the batches open or in flight are appended, and sends an abandoned one itself', async () => {
    let vanish = false;
    const never = new Promise<void>(() => {});
    const batcher = new AppendBatcher({ minIntervalMs: 40, abandonedMs: 100, sleep: (ms) => (vanish ? never : sleep(ms)) });
    const box = outbox(10);
    await batcher.append('t1', event(0), box.sink);
    void batcher.append('t1', event(1), box.sink);
    await batcher.drain('t1', box.sink);
    expect(box.calls).toEqual([['e0'], ['e1']]);
    vanish = true;
    void batcher.append('t1', event(2), box.sink); // its sender never comes back
    vanish = false;
    await batcher.drain('t1', box.sink);
    expect(box.calls.at(-1)).toEqual(['e2']);
    await batcher.drain('t9', box.sink); // nothing there: at once
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
