import type { AuditEvent } from './audit-event';

interface Batch {
  events: AuditEvent[];
  /** Local clock: the batch is not sent before this (its shard's previous append started less than `minIntervalMs` earlier). */
  notBefore: number;
  /** Set by the request that sends the batch once its append settled. */
  outcome?: { ok: true } | { ok: false; error: unknown };
}

interface Shard {
  /** The batch still taking events (its append has not started). */
  open?: Batch;
  /** The batch being sent, if any. */
  sending?: Batch;
  /** When the shard's last append started (local clock). */
  lastSentAt: number;
}

/** Most events one append carries; a fuller batch makes the next event open another. */
export const MAX_BATCH_EVENTS = 100;

/**
 * Shortest time between two appends of one shard in one isolate. An isolate answering a tenant's
 * calls back to back would otherwise send nearly every event on its own (one in flight is often
 * done before the next call ends), and each append is a Durable Object RPC that costs the isolate
 * more CPU than the call it records (profile of the stateless lane, docs/performance.md). An event
 * then waits at most this long, plus an append in flight, in its request's `waitUntil`: the
 * response is never delayed.
 */
export const MIN_APPEND_INTERVAL_MS = 50;

/** Shards (tenants) one isolate remembers at most. */
const MAX_SHARDS = 1_000;

/** Longest a caller waits for an append sent by another request (inside `waitUntil`'s 30 s). */
const CARRIED_WAIT_MS = 20_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Per-isolate batching of audit appends to one outbox object per shard (tenant): at most one
 * append per shard is in flight, and appends start at least `minIntervalMs` apart; events recorded
 * meanwhile gather in the next batch, which the request that opened it sends as one append when the
 * previous one settled and the interval passed. An idle shard sends at once, so a lone event waits
 * for nothing; under load, N events cost about one call per interval (or round trip) instead of N. Each caller's promise settles with the append that carried its
 * event: the same durability as one append per event.
 *
 * Workers forbid one request from settling another's promises or doing its I/O, so a request whose
 * event rides on another's append learns the outcome from the batch's plain `outcome` field, on
 * its own timers (polling from 1 ms, backing off to 16 ms); it gives up after CARRIED_WAIT_MS (the
 * sending request stalled) and rejects, which the caller logs like a failed append.
 */
export class AppendBatcher {
  private readonly shards = new Map<string, Shard>();

  constructor(
    private readonly maxEvents = MAX_BATCH_EVENTS,
    private readonly minIntervalMs = MIN_APPEND_INTERVAL_MS,
  ) {}

  /** Queue `event` for `shard`; resolves once the append carrying it has, rejects with its error. */
  async append(shard: string, event: AuditEvent, send: (events: AuditEvent[]) => Promise<void>): Promise<void> {
    let s = this.shards.get(shard);
    if (!s) {
      // Idle shards are kept for their `lastSentAt`, up to a bound; forgetting one only lets its next append start sooner.
      if (this.shards.size >= MAX_SHARDS) for (const [k, idle] of this.shards) if (!idle.open && !idle.sending) this.shards.delete(k);
      s = { lastSentAt: -Infinity };
      this.shards.set(shard, s);
    }
    const open = s.open;
    if (open && open.events.length < this.maxEvents) {
      open.events.push(event);
      return carried(open);
    }
    const batch: Batch = { events: [event], notBefore: s.lastSentAt + this.minIntervalMs };
    s.open = batch;
    // Wait (on this request's own timers) for the interval and the append in flight; events meanwhile join `batch`.
    if (Date.now() < batch.notBefore) await sleep(batch.notBefore - Date.now());
    for (let wait = 0; s.sending; wait = Math.min(16, wait * 2 || 1)) {
      if (s.sending.outcome) s.sending = undefined;
      else await sleep(wait);
    }
    if (s.open === batch) s.open = undefined;
    s.sending = batch;
    s.lastSentAt = Date.now();
    try {
      await send(batch.events);
      batch.outcome = { ok: true };
    } catch (error) {
      batch.outcome = { ok: false, error };
      throw error;
    } finally {
      if (s.sending === batch) s.sending = undefined;
    }
  }
}

/** Settles with the outcome of the append another request sends for `batch` (no polling before it can have been sent). */
async function carried(batch: Batch): Promise<void> {
  const started = Date.now();
  if (started < batch.notBefore) await sleep(batch.notBefore - started);
  for (let wait = 1; !batch.outcome; wait = Math.min(16, wait * 2)) {
    if (Date.now() - started > CARRIED_WAIT_MS) throw new Error(`audit append: no outcome within ${CARRIED_WAIT_MS} ms`);
    await sleep(wait);
  }
  if (!batch.outcome.ok) throw batch.outcome.error;
}
