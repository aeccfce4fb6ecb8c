import { keyringConfigured } from '../crypto/sealed-secrets';
import { breakerCounts } from './upstream-store';

/**
 * The gateway's part of `/health`: how many upstreams are registered and how many sit in each
 * breaker state, and whether secrets at rest can be sealed. Counts only, never a tenant or an
 * upstream name, because `/health` is public.
 */
export async function gatewayHealth(env: Env): Promise<Record<string, unknown>> {
  const [breakers, sealing] = await Promise.all([breakerCounts(env.DB).catch(() => null), keyringConfigured(env)]);
  const secretsAtRest = sealing ? 'configured' : 'missing';
  if (!breakers) return { error: 'unavailable', secretsAtRest };
  return { upstreams: breakers.closed + breakers.open + breakers['half-open'], breakers, secretsAtRest };
}
