import { z } from 'zod';
import { AuditResultSchema, type AuditEvent, type AuditResult } from './audit-event';
import type { ShardPageQuery } from './audit-shard';
import { legacyPage } from './legacy-d1';
import { DAY_MS, dayStart, directoryStore, registryStore, scopeOf, shardStore } from './store-names';

/** Filters of the audit query API. `tenant` undefined = every tenant (operator only); null = platform-level events. */
export interface AuditQuery {
  tenant?: string | null;
  from?: number;
  to?: number;
  action?: string;
  server?: string;
  user?: string;
  result?: AuditResult;
  limit?: number;
  cursor?: string;
  /**
   * Nothing before this time is visible: a tenant's creation time, so a tenant re-created with the
   * id of a deleted one never sees the old one's events (the operator's view has no floor).
   */
  since?: number;
}

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 5000;

/** Query-string filters, validated: bad input is a 400, never a partial or surprising answer. */
export const AuditFiltersSchema = z.object({
  from: z.coerce.number().int().nonnegative().optional(),
  to: z.coerce.number().int().nonnegative().optional(),
  action: z.string().min(1).max(100).optional(),
  server: z.string().min(1).max(64).optional(),
  user: z.string().min(1).max(254).optional(),
  result: AuditResultSchema.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional(),
  cursor: z
    .string()
    .regex(/^[0-9]+:[0-9a-f-]{36}$/, 'cursor is malformed')
    .optional(),
});

/** A page from one source (a shard, a scope, the legacy table), newest first, at most `limit + 1` long. */
export type Page = AuditEvent[];

/** Newest first: time descending, then id descending (the order the cursor `<time>:<id>` continues). */
export function newestFirst(a: AuditEvent, b: AuditEvent): number {
  return b.time - a.time || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/**
 * One page of events, newest first, merged from the tenant's day shards (newest day first, stopping
 * once the page is full), every scope for the operator's cross-tenant view, and the legacy D1 table
 * while it still holds rows not yet migrated. The cursor is `<time>:<id>` of the last event returned;
 * because every source orders the same way, it continues the merged order exactly, and pages stay
 * stable while new events arrive (they sort before the cursor).
 */
export async function queryAudit(env: Env, q: AuditQuery): Promise<{ events: AuditEvent[]; nextCursor: string | null }> {
  const limit = Math.min(q.limit ?? DEFAULT_PAGE, MAX_PAGE);
  const from = q.since !== undefined ? Math.max(q.from ?? 0, q.since) : q.from;
  const shardQuery: ShardPageQuery = { from, to: q.to, action: q.action, server: q.server, user: q.user, result: q.result, cursor: q.cursor, limit: limit + 1 };
  const scopes = q.tenant === undefined ? await registryStore(env).scopes() : [scopeOf(q.tenant)];
  const pages = await mapBounded(scopes, FAN_OUT, (scope) => scopePage(env, scope, shardQuery));
  pages.push(await legacyPage(env, { ...q, from, limit: limit + 1 }));
  // An event can be in a store and, for a moment, still in the legacy table (migration copies, then deletes).
  const seen = new Set<string>();
  const merged = pages
    .flat()
    .filter((e) => !seen.has(e.id) && seen.add(e.id))
    .sort(newestFirst);
  const events = merged.slice(0, limit);
  const last = events[events.length - 1];
  return { events, nextCursor: merged.length > limit && last ? `${last.time}:${last.id}` : null };
}

/** Concurrent calls to shards in a fan-out (the operator's view touches every scope). */
const FAN_OUT = 16;

/** One scope's page: its days newest first, each asked only while the page is not yet full. */
async function scopePage(env: Env, scope: string, q: ShardPageQuery): Promise<Page> {
  const days = (await directoryStore(env, scope).days()).map((d) => d.day).filter((day) => overlaps(day, q));
  const out: AuditEvent[] = [];
  for (const day of days) {
    // RPC types `details` (unknown values) as unserialisable; the shard returns AuditEvent rows.
    out.push(...((await shardStore(env, scope, day).page({ ...q, limit: q.limit - out.length })) as unknown as AuditEvent[]));
    if (out.length >= q.limit) break;
  }
  return out;
}

/** Whether a day can hold events of the query's time range and cursor. */
function overlaps(day: string, q: ShardPageQuery): boolean {
  const start = dayStart(day);
  const end = start + DAY_MS;
  const cursorTime = q.cursor ? Number(q.cursor.split(':')[0]) : undefined;
  return (q.from === undefined || end > q.from) && (q.to === undefined || start < q.to) && (cursorTime === undefined || start <= cursorTime);
}

/** Map with at most `n` calls in flight. */
export async function mapBounded<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
