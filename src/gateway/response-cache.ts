import { cacheKey, cacheTarget, mayCache, type CacheableMethod, type CacheQuery, type CacheTicket, type ResponseCacheSettings } from './response-cache-model';
import type { ExposedTool } from './tool-view';

/**
 * The gateway's response cache for one tenant's upstream, kept in that upstream's state object
 * (`UpstreamState`, SQLite storage): the object every call already asks before it goes out, so a
 * hit costs no extra hop, an invalidation is seen by the very next lookup (one object, strongly
 * consistent), and deleting the upstream or purging the tenant deletes the object's storage and the
 * cache with it. Entries are bounded per entry and per upstream; the oldest go first.
 */

/** Largest answer kept (its JSON); larger answers are served but not cached. */
export const MAX_ENTRY_BYTES = 256 * 1024;
/** Most bytes one upstream's cache holds (a tenant's total is at most `maxUpstreams` times this). */
export const MAX_UPSTREAM_BYTES = 4 * 1024 * 1024;
/** Most entries one upstream's cache holds. */
export const MAX_ENTRIES = 500;

/** What the admin view, metrics and the dashboard show of one upstream's cache: its counters and its size now. */
export type ResponseCacheView = ResponseCacheCounters & { entries: number; bytes: number };

/** Counters since the cache was created (the upstream registered); kept across restarts, last few increments may be lost on a crash. */
export interface ResponseCacheCounters {
  hits: number;
  misses: number;
  stores: number;
  /** Entries removed because they expired or to stay under the caps. */
  evictions: number;
  /** Entries removed by the upstream's change notifications or a configuration change. */
  invalidations: number;
  /** Answers not stored because they exceeded `MAX_ENTRY_BYTES`. */
  tooLarge: number;
}

const STATS_KEY = 'response-cache:counters';
const ZERO: ResponseCacheCounters = { hits: 0, misses: 0, stores: 0, evictions: 0, invalidations: 0, tooLarge: 0 };

export class ResponseCache {
  private ready = false;
  private counters: ResponseCacheCounters | null = null;
  private loading: Promise<ResponseCacheCounters> | null = null;
  /** Bumped by every invalidation: an answer asked for before it is not stored after it. */
  private generation = 0;
  private readonly instance = crypto.randomUUID().slice(0, 8);

  constructor(private readonly storage: DurableObjectStorage) {}

  /** The current invalidation epoch (unique to this object's life, so a restart also refuses older tickets). */
  epoch(): string {
    return `${this.instance}:${this.generation}`;
  }

  /**
   * One lookup for `admit`: nothing when this request may not be cached (caching off, another
   * method, a tool not opted in or not annotated read-only and idempotent), the cached answer on a
   * hit, else a ticket the session stores the answer with.
   */
  async lookup(
    scope: { tenant: string; upstream: string; version: number; settings: ResponseCacheSettings | undefined },
    op: string,
    query: CacheQuery | undefined,
    tool?: ExposedTool,
  ): Promise<{ hit: unknown } | { ticket: CacheTicket } | null> {
    if (!query || !mayCache(scope.settings, op, tool)) return null;
    const epoch = this.epoch();
    const key = await cacheKey(scope, op, query, tool);
    const hit = await this.get(key);
    return hit === undefined ? { ticket: { key, method: op, target: cacheTarget(op, query.params, tool), epoch } } : { hit };
  }

  /** The cached answer, or undefined (a miss, or an entry that expired and is evicted now). */
  async get(key: string, now = Date.now()): Promise<unknown> {
    const c = await this.stats();
    const row = this.sql().exec<{ value: string; expires_at: number }>('SELECT value, expires_at FROM response_cache WHERE key = ?', key).toArray()[0];
    if (row && row.expires_at > now) {
      c.hits++;
      this.save();
      return JSON.parse(row.value) as unknown;
    }
    if (row) c.evictions += this.sql().exec('DELETE FROM response_cache WHERE key = ?', key).rowsWritten;
    c.misses++;
    this.save();
    return undefined;
  }

  /** Keep an answer for `ttlMs`, unless an invalidation happened since its ticket was issued or it is too large. */
  async put(ticket: CacheTicket, value: unknown, ttlMs: number, now = Date.now()): Promise<boolean> {
    const c = await this.stats();
    if (ticket.epoch !== this.epoch()) return false;
    const json = JSON.stringify(value);
    const bytes = new TextEncoder().encode(json).byteLength;
    if (bytes > MAX_ENTRY_BYTES) {
      c.tooLarge++;
      this.save();
      return false;
    }
    const sql = this.sql();
    sql.exec(
      'INSERT OR REPLACE INTO response_cache (key, method, target, value, bytes, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      ticket.key,
      ticket.method,
      ticket.target,
      json,
      bytes,
      now + ttlMs,
    );
    c.stores++;
    c.evictions += this.trim(now);
    this.save();
    return true;
  }

  /** Drop entries: every entry, a method's, or one target's (a resource URI after `resources/updated`). */
  async invalidate(method?: CacheableMethod, target?: string): Promise<number> {
    const c = await this.stats();
    this.generation++;
    const sql = this.sql();
    const removed =
      method === undefined
        ? sql.exec('DELETE FROM response_cache').rowsWritten
        : target === undefined
          ? sql.exec('DELETE FROM response_cache WHERE method = ?', method).rowsWritten
          : sql.exec('DELETE FROM response_cache WHERE method = ? AND target = ?', method, target).rowsWritten;
    c.invalidations += removed;
    this.save();
    return removed;
  }

  /** Counters and current size, for the admin API and the dashboard. */
  async view(): Promise<ResponseCacheView> {
    const c = await this.stats();
    const size = this.sql().exec<{ n: number; b: number | null }>('SELECT COUNT(*) AS n, SUM(bytes) AS b FROM response_cache').one();
    return { ...c, entries: size.n, bytes: size.b ?? 0 };
  }

  /** Expired entries first, then the oldest until the entry and byte caps hold; returns how many went. */
  private trim(now: number): number {
    const sql = this.sql();
    let removed = sql.exec('DELETE FROM response_cache WHERE expires_at <= ?', now).rowsWritten;
    for (;;) {
      const size = sql.exec<{ n: number; b: number | null }>('SELECT COUNT(*) AS n, SUM(bytes) AS b FROM response_cache').one();
      if (size.n <= MAX_ENTRIES && (size.b ?? 0) <= MAX_UPSTREAM_BYTES) return removed;
      removed += sql.exec('DELETE FROM response_cache WHERE key = (SELECT key FROM response_cache ORDER BY expires_at LIMIT 1)').rowsWritten;
    }
  }

  private sql(): SqlStorage {
    if (!this.ready) {
      this.storage.sql.exec(
        `CREATE TABLE IF NOT EXISTS response_cache (key TEXT PRIMARY KEY, method TEXT NOT NULL, target TEXT NOT NULL, value TEXT NOT NULL, bytes INTEGER NOT NULL, expires_at INTEGER NOT NULL);
         CREATE INDEX IF NOT EXISTS response_cache_target ON response_cache (method, target);
         CREATE INDEX IF NOT EXISTS response_cache_expiry ON response_cache (expires_at);`,
      );
      this.ready = true;
    }
    return this.storage.sql;
  }

  private async stats(): Promise<ResponseCacheCounters> {
    if (this.counters) return this.counters;
    this.loading ??= this.storage.get<ResponseCacheCounters>(STATS_KEY).then((saved) => (this.counters = { ...ZERO, ...(saved ?? {}) }));
    return this.loading;
  }

  /** Counters are written without holding the answer back (allowUnconfirmed): a hit does not wait for storage. */
  private save(): void {
    if (this.counters) void this.storage.put(STATS_KEY, this.counters, { allowUnconfirmed: true }).catch(() => undefined);
  }
}
