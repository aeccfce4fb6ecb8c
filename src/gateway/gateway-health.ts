import { keyringConfigured } from '../crypto/sealed-secrets';
import { breakerCounts, replicaCounts } from './upstream-store';

/**
 * The gateway's part of `/health`: how many upstreams (and replicas, up or taken out) are registered, how many sit in each
 * breaker state, and whether secrets at rest can be sealed. Counts only, never a tenant or an
 * upstream name, because `/health` is public.
 */
export async function gatewayHealth(env: Env): Promise<Record<string, unknown>> {
  const [breakers, replicas, sealing] = await Promise.all([
    breakerCounts(env.DB).catch(() => null),
    replicaCounts(env.DB).catch(() => null),
    keyringConfigured(env),
  ]);
  const secretsAtRest = sealing ? 'configured' : 'missing';
  if (!breakers || !replicas) return { error: 'unavailable', secretsAtRest };
  return {
    upstreams: breakers.closed + breakers.open + breakers['half-open'],
    breakers,
    replicas: { total: replicas.total, up: replicas.total - replicas.down, down: replicas.down },
    secretsAtRest,
  };
}
