import type { ResponseCacheView } from './response-cache';
import { upstreamStub } from './upstream-state';
import { listUpstreams } from './upstream-store';

/**
 * The response cache's counters of each of a tenant's upstreams, for `GET .../metrics`: one call to
 * each upstream's state object (at most `limits.maxUpstreams`), made only when metrics are asked for.
 * An upstream whose object cannot be reached is left out rather than failing the metrics.
 */
export async function responseCacheMetrics(env: Env, tenantId: string): Promise<Record<string, ResponseCacheView>> {
  const upstreams = await listUpstreams(env.DB, tenantId);
  const views = await Promise.all(
    upstreams.map(async (u) => {
      try {
        return [u.name, await upstreamStub(env, { tenant: tenantId, name: u.name }).responseCacheView()] as const;
      } catch {
        return null;
      }
    }),
  );
  return Object.fromEntries(views.filter((v) => v !== null));
}
