import { z } from 'zod';
import { mapBounded } from '../audit/audit-query';
import { addCounts, MINUTE, type RollupCounts } from '../audit/audit-rollup';
import { DAY_MS, dayStart, directoryStore, PLATFORM_SCOPE, registryStore, shardStore } from '../audit/store-names';
import { LatencySketch, percentiles } from './latency-sketch';
import { sessionIdleMs } from '../config';

/**
 * Per tenant and server metrics, read from the rollups the audit stores keep as events arrive
 * (src/audit/audit-rollup.ts): counts per minute and per hour with a latency sketch, so a query
 * costs the same for a thousand events as for ten million, and the hot path does nothing extra.
 * Counts are exact; percentiles are nearest-rank within 2 % (src/metrics/latency-sketch.ts).
 */
export interface MetricsQuery {
  /** Omit for the platform-wide view (operator). */
  tenant?: string;
  windowMinutes: number;
  bucketMinutes: number;
  /** End of the window (ms); defaults to now. */
  now?: number;
  /** Nothing before this counts (the tenant's creation: a re-created tenant never sees a deleted one's traffic). */
  since?: number;
}

export interface ServerMetrics {
  tenant: string;
  server: string;
  requests: number;
  errors: number;
  denials: number;
  rateLimited: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface SeriesPoint {
  start: number;
  server: string;
  requests: number;
  errors: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface Metrics {
  from: number;
  to: number;
  servers: ServerMetrics[];
  series: SeriesPoint[];
  activeSessions: number;
}

/** `?window=<minutes>&bucket=<minutes>`: at most 30 days, at most 500 buckets. */
export const MetricsParamsSchema = z
  .object({
    window: z.coerce.number().int().min(1).max(43_200).default(60),
    bucket: z.coerce.number().int().min(1).max(43_200).default(5),
  })
  .refine((p) => p.bucket <= p.window && p.window / p.bucket <= 500, { message: 'bucket must be at most window, and window/bucket at most 500' });

type Acc = RollupCounts & { sketch: LatencySketch };
const newAcc = (): Acc => ({ requests: 0, errors: 0, denials: 0, rateLimited: 0, sketch: new LatencySketch() });

/**
 * Metrics for one tenant (or every tenant, never the platform-level scope) over the window that
 * ends with the current bucket, with a series per server. Each day shard in the window merges
 * its rollups into the series buckets; this merges the shards and reads the percentiles.
 */
export async function queryMetrics(env: Env, q: MetricsQuery): Promise<Metrics> {
  const now = q.now ?? Date.now();
  const bucketMs = q.bucketMinutes * MINUTE;
  // Buckets sit on multiples of their size since the epoch and the window ends with the current
  // one, so hour-sized buckets are read from hour rollups rather than sixty minutes each.
  const to = now - (now % bucketMs) + bucketMs;
  const from = to - q.windowMinutes * MINUTE;
  const readFrom = q.since === undefined ? from : Math.max(from, q.since - (q.since % MINUTE));
  const activeSince = Math.max(readFrom, now - sessionIdleMs(env));
  const scopes = q.tenant !== undefined ? [q.tenant] : (await registryStore(env).scopes()).filter((s) => s !== PLATFORM_SCOPE);

  const servers = new Map<string, Acc & { tenant: string; server: string }>();
  const series = new Map<string, Acc & { bucket: number; server: string }>();
  const sessions = new Set<string>();
  await mapBounded(scopes, 16, async (scope) => {
    const days = (await directoryStore(env, scope).days()).map((d) => d.day).filter((day) => dayStart(day) + DAY_MS > readFrom && dayStart(day) < to);
    await Promise.all(
      days.map(async (day) => {
        const shard = shardStore(env, scope, day);
        const start = dayStart(day);
        const { rows, active } = await shard.metrics(
          from,
          Math.max(readFrom, start),
          Math.min(to, start + DAY_MS),
          bucketMs,
          start + DAY_MS > activeSince ? activeSince : undefined,
        );
        for (const id of active) sessions.add(id);
        for (const r of rows) {
          const s = servers.get(`${scope}|${r.server}`) ?? { ...newAcc(), tenant: scope, server: r.server };
          servers.set(`${scope}|${r.server}`, s);
          const p = series.get(`${r.bucket}|${r.server}`) ?? { ...newAcc(), bucket: r.bucket, server: r.server };
          series.set(`${r.bucket}|${r.server}`, p);
          for (const acc of [s, p]) {
            addCounts(acc, r);
            acc.sketch.merge(r.sketch);
          }
        }
      }),
    );
  });

  const byKey = <T extends { server: string }>(a: T, b: T, first: (x: T) => string | number) =>
    first(a) < first(b) ? -1 : first(a) > first(b) ? 1 : a.server.localeCompare(b.server);
  return {
    from,
    to,
    servers: [...servers.values()]
      .sort((a, b) => byKey(a, b, (x) => x.tenant))
      .map((s) => ({
        tenant: s.tenant,
        server: s.server,
        requests: s.requests,
        errors: s.errors,
        denials: s.denials,
        rateLimited: s.rateLimited,
        ...percentiles(s.sketch),
      })),
    series: [...series.values()]
      .sort((a, b) => byKey(a, b, (x) => x.bucket))
      .map((p) => ({
        start: from + p.bucket * bucketMs,
        server: p.server,
        requests: p.requests,
        errors: p.errors,
        ...percentiles(p.sketch),
      })),
    activeSessions: sessions.size,
  };
}
