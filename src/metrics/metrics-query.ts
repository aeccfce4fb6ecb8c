import { z } from 'zod';

/**
 * Per tenant and server metrics, computed from the audit trail: every MCP request already becomes
 * an event with its result and latency, so metrics cost the hot path nothing (no counter updates,
 * no extra round trip) and always agree with the audit log. Percentiles are nearest-rank over the
 * window, computed inside D1 with window functions.
 */
export interface MetricsQuery {
  /** Omit for the platform-wide view (operator). */
  tenant?: string;
  windowMinutes: number;
  bucketMinutes: number;
  /** End of the window (ms); defaults to now. */
  now?: number;
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

/** Coalesced rate-limit events stand for `details.count` refusals each (src/limits/limit-audit.ts). */
const WEIGHT = `COALESCE(json_extract(details, '$.count'), 1)`;

const PERCENTILES = `MIN(CASE WHEN rn >= 0.50 * n THEN latency_ms END) AS p50,
  MIN(CASE WHEN rn >= 0.95 * n THEN latency_ms END) AS p95,
  MIN(CASE WHEN rn >= 0.99 * n THEN latency_ms END) AS p99`;

/** Sessions count as active while they have had a request within the idle timeout. */
function idleMinutes(env: Env): number {
  const configured = Number((env as { SMCP_SESSION_IDLE_MINUTES?: string }).SMCP_SESSION_IDLE_MINUTES);
  return Number.isFinite(configured) && configured > 0 ? configured : 30;
}

type MetricsRow = Record<string, number | string | null>;

/** Metrics for one tenant (or all) over the window ending now, with a time series per server. */
export async function queryMetrics(env: Env, q: MetricsQuery): Promise<Metrics> {
  const to = q.now ?? Date.now();
  const from = to - q.windowMinutes * 60_000;
  const bucketMs = q.bucketMinutes * 60_000;
  // ?3 is the tenant, or NULL for every tenant's events (never the platform-level ones).
  const scope = '(tenant = ?3 OR (?3 IS NULL AND tenant IS NOT NULL))';
  const args = (...extra: unknown[]) => [from, to, q.tenant ?? null, ...extra];
  const inWindow = `time >= ?1 AND time < ?2 AND ${scope} AND server IS NOT NULL`;
  const db = env.DB;

  const [counts, latency, series, sessions] = await db.batch<MetricsRow>([
    db.prepare(`SELECT tenant, server, SUM(${WEIGHT}) AS requests,
        SUM(result = 'error') AS errors, SUM(result = 'denied') AS denials, SUM(CASE WHEN result = 'rate_limited' THEN ${WEIGHT} ELSE 0 END) AS rateLimited
      FROM audit_events WHERE ${inWindow} GROUP BY tenant, server ORDER BY tenant, server`).bind(...args()),
    db.prepare(`WITH ranked AS (
        SELECT tenant, server, latency_ms, ROW_NUMBER() OVER (PARTITION BY tenant, server ORDER BY latency_ms) AS rn,
          COUNT(*) OVER (PARTITION BY tenant, server) AS n
        FROM audit_events WHERE ${inWindow} AND latency_ms IS NOT NULL AND result IN ('ok', 'error'))
      SELECT tenant, server, ${PERCENTILES} FROM ranked GROUP BY tenant, server`).bind(...args()),
    db.prepare(`WITH b AS (
        SELECT server, result, latency_ms, ${WEIGHT} AS weight, CAST(time - ?1 AS INTEGER) / ${bucketMs} AS bucket FROM audit_events WHERE ${inWindow}),
      ranked AS (
        SELECT bucket, server, latency_ms, ROW_NUMBER() OVER (PARTITION BY bucket, server ORDER BY latency_ms) AS rn,
          COUNT(*) OVER (PARTITION BY bucket, server) AS n
        FROM b WHERE latency_ms IS NOT NULL AND result IN ('ok', 'error')),
      counts AS (SELECT bucket, server, SUM(weight) AS requests, SUM(result = 'error') AS errors FROM b GROUP BY bucket, server),
      pct AS (SELECT bucket, server, ${PERCENTILES} FROM ranked GROUP BY bucket, server)
      SELECT counts.bucket AS bucket, counts.server AS server, requests, errors, p50, p95, p99
      FROM counts LEFT JOIN pct ON pct.bucket = counts.bucket AND pct.server = counts.server ORDER BY counts.bucket, counts.server`).bind(...args()),
    db.prepare(`SELECT COUNT(DISTINCT session) AS active FROM audit_events
      WHERE time >= ?4 AND time < ?2 AND ${scope} AND session IS NOT NULL`).bind(...args(to - idleMinutes(env) * 60_000)),
  ]);

  const pct = new Map(latency!.results.map((r) => [`${r.tenant}|${r.server}`, r]));
  return {
    from,
    to,
    servers: counts!.results.map((r) => {
      const p = pct.get(`${r.tenant}|${r.server}`);
      return {
        tenant: String(r.tenant), server: String(r.server), requests: Number(r.requests), errors: Number(r.errors),
        denials: Number(r.denials), rateLimited: Number(r.rateLimited),
        p50: num(p?.p50), p95: num(p?.p95), p99: num(p?.p99),
      };
    }),
    series: series!.results.map((r) => ({
      start: from + Number(r.bucket) * bucketMs, server: String(r.server), requests: Number(r.requests), errors: Number(r.errors),
      p50: num(r.p50), p95: num(r.p95), p99: num(r.p99),
    })),
    activeSessions: Number(sessions!.results[0]?.active ?? 0),
  };
}

function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}
