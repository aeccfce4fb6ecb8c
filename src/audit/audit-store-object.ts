import { DurableObject } from 'cloudflare:workers';
import type { AuditEvent } from './audit-event';
import { archiveKey, archiveShard } from './audit-archive';
import { AuditDirectory, AuditRegistry, type DirectoryDay } from './audit-directory';
import { AuditShard, type ShardMetricsRow, type ShardPageQuery } from './audit-shard';
import { dayOf, directoryStore, registryStore } from './store-names';

const REGISTERED_KEY = 'smcp:registered';

/**
 * Events one ingest transaction stores before the shard yields the thread (a 500-event outbox batch
 * is ten turns of about 10 ms each). Objects that share an isolate share its one thread (all of them,
 * locally), so without this a tenant written flat out would hold it for a whole batch at a time and
 * every other tenant's write or query in that isolate would wait behind it.
 */
export const INGEST_CHUNK = 50;

/** Give the thread to whatever else is waiting (other objects' requests) before the next chunk. */
const yieldThread = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * The audit store: one SQLite-backed Durable Object class with three kinds of instance, named in
 * src/audit/store-names.ts: a day shard of one scope (events, rollups, sessions), a scope's
 * directory (its days) and the registry (every scope). Capacity and write throughput therefore
 * grow with tenants and days: no object holds more than one tenant-day, and no tenant's writes
 * or queries wait on another's object.
 */
export class AuditStore extends DurableObject<Env> {
  private shardState?: AuditShard;
  private directoryState?: AuditDirectory;
  private registryState?: AuditRegistry;
  private registered = false;
  /** The delivery being stored: one at a time per shard, so more concurrent senders do not get a tenant more turns. */
  private ingesting: Promise<unknown> = Promise.resolve();

  private shard(): AuditShard {
    return (this.shardState ??= new AuditShard(this.ctx.storage));
  }

  // ---- shard role -------------------------------------------------------------------------

  /**
   * Store a batch of `scope`'s events of `day`; resolves with how many were new once they are
   * durable (the caller's outbox deletes its rows only then). The first batch registers the day in
   * the scope's directory before storing, so a stored event is always findable.
   *
   * Fair to other tenants (back-pressure on this one): deliveries to one shard are stored one after
   * another, each in transactions of INGEST_CHUNK events with the thread yielded in between, so a
   * tenant written as fast as its outboxes can ship takes turns with everything else in the isolate
   * instead of holding it. Still exactly once: every chunk stores only ids it does not hold and
   * updates rollups for exactly those in the same transaction, so a delivery that fails after some
   * chunks is resent by its outbox and the stored chunks are skipped.
   */
  async ingest(scope: string, day: string, events: AuditEvent[]): Promise<number> {
    const turn = this.ingesting.then(() => this.store(scope, day, events));
    this.ingesting = turn.catch(() => undefined);
    return turn;
  }

  private async store(scope: string, day: string, events: AuditEvent[]): Promise<number> {
    if (!this.registered) {
      if (!(await this.ctx.storage.get<boolean>(REGISTERED_KEY))) {
        await directoryStore(this.env, scope).registerDay(scope, day);
        await this.ctx.storage.put(REGISTERED_KEY, true);
      }
      this.registered = true;
    }
    let stored = 0;
    for (let i = 0; i < events.length; i += INGEST_CHUNK) {
      if (i > 0) await yieldThread();
      stored += this.shard().ingest(events.slice(i, i + INGEST_CHUNK));
    }
    // Late events for a finished day: its R2 export must be written again.
    if (stored > 0 && day < dayOf(Date.now())) await directoryStore(this.env, scope).markStale(day);
    return stored;
  }

  async page(q: ShardPageQuery): Promise<AuditEvent[]> {
    return this.shard().page(q);
  }

  /**
   * The day's rollups merged into series buckets (see AuditShard.metrics) and, when `activeSince` is
   * given, the sessions with a request since then: one call per shard for a metrics query.
   */
  async metrics(origin: number, from: number, to: number, bucketMs: number, activeSince?: number): Promise<{ rows: ShardMetricsRow[]; active: string[] }> {
    const shard = this.shard();
    return { rows: shard.metrics(origin, from, to, bucketMs), active: activeSince === undefined ? [] : shard.activeSessions(activeSince) };
  }

  async count(): Promise<number> {
    return this.shard().count();
  }

  async deleteBefore(cutoff: number): Promise<number> {
    return this.shard().deleteBefore(cutoff);
  }

  /** Write the day to R2 as JSON Lines (see audit-archive.ts). */
  async archive(scope: string, day: string): Promise<{ events: number; bytes: number }> {
    return archiveShard(this.shard(), this.env.FILES, archiveKey(scope, day));
  }

  /** Retention of a whole day: every row goes, and the object with them. */
  async drop(): Promise<number> {
    const n = this.shard().count();
    await this.ctx.storage.deleteAll();
    this.shardState = undefined;
    this.registered = false;
    return n;
  }

  // ---- directory role ---------------------------------------------------------------------

  private directory(): AuditDirectory {
    return (this.directoryState ??= new AuditDirectory(this.ctx.storage.sql));
  }

  async registerDay(scope: string, day: string): Promise<void> {
    // The registry first: a scope with a day is always in the registry, even after a failure here.
    if (this.directory().isEmpty()) await registryStore(this.env).registerScope(scope);
    this.directory().register(day);
  }

  async days(): Promise<DirectoryDay[]> {
    return this.directory().days();
  }

  async markExported(day: string): Promise<void> {
    this.directory().markExported(day);
  }

  async markStale(day: string): Promise<void> {
    this.directory().markStale(day);
  }

  async forgetDay(day: string): Promise<void> {
    this.directory().forget(day);
  }

  // ---- registry role ----------------------------------------------------------------------

  private registry(): AuditRegistry {
    return (this.registryState ??= new AuditRegistry(this.ctx.storage.sql));
  }

  async registerScope(scope: string): Promise<void> {
    this.registry().register(scope);
  }

  async scopes(): Promise<string[]> {
    return this.registry().scopes();
  }
}
