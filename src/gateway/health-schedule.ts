import { MIN_HEALTH_INTERVAL_MS } from './upstream-model';

/**
 * When an upstream's next health check runs. Health checks are traffic the platform generates on
 * a tenant's behalf with no client asking, so they are bounded three ways: no upstream is checked
 * more often than every `MIN_HEALTH_INTERVAL_MS` (also enforced at registration, and applied here
 * to rows stored before that rule), a tenant's upstreams together start at most one check per
 * `TENANT_CHECK_SPACING_MS` (each upstream's interval stretches with the tenant's upstream count),
 * and nothing is checked for a suspended tenant or a disabled upstream (the object only wakes every
 * `PAUSED_RECHECK_MS` to see whether that changed, without contacting the upstream).
 */

/** A tenant's upstreams together: at most one health check per this many milliseconds (20 a minute). */
export const TENANT_CHECK_SPACING_MS = 3_000;
/** How often a paused upstream's object looks at the tenant and upstream state again (no upstream traffic). */
export const PAUSED_RECHECK_MS = 15 * 60_000;

/** Milliseconds until the next check of one upstream, for a tenant with `upstreamCount` upstreams. */
export function healthInterval(configuredMs: number, upstreamCount: number): number {
  return Math.max(configuredMs, MIN_HEALTH_INTERVAL_MS, Math.max(1, upstreamCount) * TENANT_CHECK_SPACING_MS);
}
