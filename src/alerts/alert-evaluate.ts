import { queryMetrics, type ServerMetrics } from '../metrics/metrics-query';
import { upstreamStub } from '../gateway/upstream-state';
import type { AlertRule } from './alert-model';

/**
 * The value each rule watches, read where it costs the hot path nothing: latency and rates from
 * the tenant's metrics rollups (one query per distinct window, src/metrics/metrics-query.ts),
 * breaker and replica state from the upstream's state object. A rule is crossed while its value
 * is above its threshold; null means no data (no traffic in the window, no such upstream) and
 * counts as not crossed.
 */
export async function ruleValues(env: Env, tenant: string, since: number, rules: AlertRule[], now = Date.now()): Promise<Map<string, number | null>> {
  const values = new Map<string, number | null>();
  const windows = [...new Set(rules.filter((r) => !isStateMetric(r)).map((r) => r.windowMinutes))];
  const byWindow = new Map<number, Map<string, ServerMetrics>>();
  await Promise.all(
    windows.map(async (w) => {
      const m = await queryMetrics(env, { tenant, windowMinutes: w, bucketMinutes: 1, now, since });
      byWindow.set(w, new Map(m.servers.map((s) => [s.server, s])));
    }),
  );
  const statuses = new Map<string, Promise<UpstreamStatus | null>>();
  const status = (server: string) => {
    const key = { tenant, name: server };
    if (!statuses.has(server))
      statuses.set(
        server,
        (async () => (await upstreamStub(env, key).status(key)) as unknown as UpstreamStatus)().catch(() => null),
      );
    return statuses.get(server)!;
  };
  for (const rule of rules) {
    if (isStateMetric(rule)) {
      values.set(rule.id, stateValue(rule, await status(rule.server)));
      continue;
    }
    const s = byWindow.get(rule.windowMinutes)?.get(rule.server);
    values.set(rule.id, s ? metricValue(rule, s) : null);
  }
  return values;
}

interface UpstreamStatus {
  breaker: { state: string } | null;
  health: { ok: boolean } | null;
  /** Per-replica state (src/gateway/replicas.ts `view()`): each with its own breaker and last health check. */
  replicas?: Array<{ breaker?: { state?: string } | null; health?: { ok?: boolean } | null }>;
}

const isStateMetric = (r: AlertRule) => r.metric === 'breaker_open' || r.metric === 'replica_down';

function stateValue(rule: AlertRule, s: UpstreamStatus | null): number | null {
  if (!s || !s.breaker) return null;
  if (rule.metric === 'breaker_open') return s.breaker.state === 'open' ? 1 : 0;
  // Replicas down: taken out (its breaker open) or failing its last health check; without a
  // per-replica view the upstream is one replica, down when its last health check failed.
  if (Array.isArray(s.replicas) && s.replicas.length > 0) return s.replicas.filter((r) => r.breaker?.state === 'open' || r.health?.ok === false).length;
  return s.health && s.health.ok === false ? 1 : 0;
}

function metricValue(rule: AlertRule, s: ServerMetrics): number | null {
  switch (rule.metric) {
    case 'p95_latency_ms':
      return s.p95;
    case 'p99_latency_ms':
      return s.p99;
    case 'error_rate':
      return s.requests >= rule.minRequests ? s.errors / s.requests : null;
    case 'rate_limited_share':
      return s.requests >= rule.minRequests ? s.rateLimited / s.requests : null;
    default:
      return null;
  }
}

/** Crossed: strictly above the threshold (a breaker_open rule with threshold 0 fires on any open breaker). */
export const crossed = (value: number | null, threshold: number) => value !== null && value > threshold;
