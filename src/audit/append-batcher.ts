import type { AuditEvent } from './audit-event';

/** Where a shard's batches go (record.ts: the tenant's audit store), and who keeps a batch whose append failed. */
export interface AppendSink {
  /** Deliver the events (resolves once they are durable where they went). */
  send(events: AuditEvent[]): Promise<void>;
  /**
   * The delivery failed: called once, by the batch's sender, with every event the batch carried
   * (whoever recorded them), to keep them somewhere durable (src/audit/record.ts). Must not throw.
   */
  failed(events: AuditEvent[], error: unknown): void | Promise<void>;
}

interface Batch {
  events: AuditEvent[];
  /** Local clock: the batch is not sent before this (its shard's previous append started less than `minIntervalMs` earlier). */
  notBefore: number;
  /** When the batch's sender was last seen waiting to send it; a batch not seen for `abandonedMs` is taken over. */
  alive: number;
  /** Set by the sender once the append settled (either way). */
  done: boolean;
  /** The batch that took this one's events over when its append was presumed lost (STUCK_MS): it settles this one. */
  carriedBy?: Batch;
}

/** Whether `batch`'s events are settled: its own append did, or the batch that took them over did. */
const settled = (batch: Batch): boolean => batch.done || (!!batch.carriedBy && settled(batch.carriedBy));

interface Shard {
  /** The batch still taking events (its append has not started). */
  open?: Batch;
  /** The batch being sent, if any, and when its append started. */
  sending?: { batch: Batch; startedAt: number };
  /** When the shard's last append started (local clock). */
  lastSentAt: number;
}

/** Tunables, for tests; the defaults are the production values. */
export interface BatcherOptions {
  maxEvents?: number;
  minIntervalMs?: number;
  abandonedMs?: number;
  stuckMs?: number;
  /** How a sender waits (its own timers); a test stands in a request whose timers never fire. */
  sleep?: (ms: number) => Promise<void>;
}

/** Most events one append carries; a fuller batch makes the next event open another. */
export const MAX_BATCH_EVENTS = 100;

/**
 * Shortest time between two appends of one shard in one isolate. An isolate answering a tenant's
 * calls back to back would otherwise send nearly every event on its own (one in flight is often
 * done before the next call ends), and each append is a Durable Object RPC that costs the isolate
 * more CPU than the call it records (profile of the stateless lane, docs/performance.md). An event
 * then waits at most this long, plus an append in flight, in its sender's `waitUntil`: the
 * response is never delayed. 250 ms rather than the former 50: each delivery is a call, a
 * transaction and a commit (an fsync) in the store, and at 250 ms the store commits about a third
 * as often and writes about half the bytes for the same calls (docs/performance.md, "Update,
 * 2026-12-01 10:30"); the price is a longer window in which an event exists only in memory
 * (docs/audit.md, "What is given up").
 */
export const MIN_APPEND_INTERVAL_MS = 250;

/** A batch whose sender has not been seen for this long (its request or object is gone) is sent by the next event of its shard instead. */
const ABANDONED_MS = 1_000;

/** An append in flight for longer than this is presumed lost (its sender is gone): its events are sent again with the next batch (the store keeps one copy per id). */
const STUCK_MS = 20_000;

/** Shards (tenants) one isolate remembers at most. */
const MAX_SHARDS = 1_000;

const timerSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Per-isolate batching of audit events into one call (an "append": src/audit/record.ts delivers it
 * to the shard's audit store) per shard (tenant), shared by every request and Durable Object of the
 * isolate: at most one append per shard is in flight, and appends
 * start at least `minIntervalMs` apart. The event that opens a batch makes its caller the batch's
 * sender; events recorded meanwhile join the batch and their callers return at once (no timer, no
 * wait: under load most events cost a push to an array). The sender waits, on its own timers, for
 * the interval and the append in flight, sends the batch as one append, and on failure hands every
 * event it carried to its sink's `failed` (a session object keeps them in its own outbox). An idle
 * shard sends at once, so a lone event waits for nothing.
 *
 * Workers forbid one request from settling another's promises or doing its I/O, so nothing but
 * plain data is shared between callers. A sender can vanish (its request's `waitUntil` ran out, its
 * object was reset): a batch whose sender has not been seen for ABANDONED_MS is sent by the next
 * event of the shard (or `drain`), and an append in flight for STUCK_MS is presumed lost and its
 * events sent again with the next batch. Until then those events exist only in this isolate's
 * memory: the window described in docs/audit.md.
 */
export class AppendBatcher {
  private readonly shards = new Map<string, Shard>();
  private readonly maxEvents: number;
  private readonly minIntervalMs: number;
  private readonly abandonedMs: number;
  private readonly stuckMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: BatcherOptions = {}) {
    this.maxEvents = options.maxEvents ?? MAX_BATCH_EVENTS;
    this.minIntervalMs = options.minIntervalMs ?? MIN_APPEND_INTERVAL_MS;
    this.abandonedMs = options.abandonedMs ?? ABANDONED_MS;
    this.stuckMs = options.stuckMs ?? STUCK_MS;
    this.sleep = options.sleep ?? timerSleep;
  }

  /**
   * Queue `event` for `shard`. Resolves at once when the event joined a batch another caller sends;
   * when this caller sends the batch, once its append settled and, on failure, `sink.failed` ran.
   * Never rejects. Keep the promise in `waitUntil`: the events of other callers may ride on it.
   */
  append(shard: string, event: AuditEvent, sink: AppendSink): Promise<void> {
    const s = this.shard(shard);
    const now = Date.now();
    const open = s.open;
    if (open && now - open.alive >= this.abandonedMs) {
      // Its sender is gone: this caller sends it, with its own event.
      open.events.push(event);
      return this.sendBatch(s, open, sink);
    }
    if (open && open.events.length < this.maxEvents) {
      open.events.push(event);
      return Promise.resolve();
    }
    const batch: Batch = { events: [event], notBefore: s.lastSentAt + this.minIntervalMs, alive: now, done: false };
    s.open = batch;
    return this.sendBatch(s, batch, sink);
  }

  /**
   * Resolves once the batches of `shard` open or in flight now are appended (or failed and handed
   * to their sinks), sending an abandoned one itself with `sink`: a session object calls it before
   * its storage is deleted. A batch presumed lost counts as settled once the batch that took its
   * events over is. Waits at most about STUCK_MS.
   */
  async drain(shard: string, sink: AppendSink): Promise<void> {
    const s = this.shards.get(shard);
    const pending = [s?.open, s?.sending?.batch].filter((b): b is Batch => !!b && !settled(b));
    const deadline = Date.now() + this.stuckMs;
    for (let wait = 1; s && pending.some((b) => !settled(b)) && Date.now() < deadline; wait = Math.min(16, wait * 2)) {
      const open = s.open;
      if (open && pending.includes(open) && Date.now() - open.alive >= this.abandonedMs) await this.sendBatch(s, open, sink);
      else await this.sleep(wait);
    }
  }

  private shard(key: string): Shard {
    let s = this.shards.get(key);
    if (!s) {
      // Idle shards are kept for their `lastSentAt`, up to a bound; forgetting one only lets its next append start sooner.
      if (this.shards.size >= MAX_SHARDS) for (const [k, idle] of this.shards) if (!idle.open && !idle.sending) this.shards.delete(k);
      s = { lastSentAt: -Infinity };
      this.shards.set(key, s);
    }
    return s;
  }

  /** The sender's part: wait for the interval and the append in flight (taking over one presumed lost), then append. */
  private async sendBatch(s: Shard, batch: Batch, sink: AppendSink): Promise<void> {
    batch.alive = Date.now();
    if (batch.alive < batch.notBefore) await this.sleep(batch.notBefore - batch.alive);
    for (let wait = 0; s.sending; wait = Math.min(16, wait * 2 || 1)) {
      batch.alive = Date.now();
      const { batch: inFlight, startedAt } = s.sending;
      if (inFlight.done) s.sending = undefined;
      else if (batch.alive - startedAt >= this.stuckMs) {
        batch.events.unshift(...inFlight.events);
        inFlight.carriedBy = batch;
        s.sending = undefined;
      } else await this.sleep(wait);
    }
    if (batch.done) return; // taken over meanwhile and sent by another caller
    if (s.open === batch) s.open = undefined;
    const sending = { batch, startedAt: Date.now() };
    s.sending = sending;
    s.lastSentAt = sending.startedAt;
    try {
      await sink.send(batch.events);
    } catch (error) {
      await sink.failed(batch.events, error);
    } finally {
      batch.done = true;
      if (s.sending === sending) s.sending = undefined;
    }
  }
}
