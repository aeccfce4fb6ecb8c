import type { CredentialUsage } from '../limits/credential-windows';
import { limiter, tenantLimiterName } from '../limits/limits';
import { listApiKeys, type ApiKey } from '../tenancy/api-keys';

/** A key as the admin API and the dashboard list it: its record plus its request counts. */
export type KeyWithUsage = ApiKey & { usage: CredentialUsage };

/**
 * The tenant's keys, newest first, each with its request counts this minute, this hour, this UTC
 * day and in total, as its tenant's limiter counted them (the same counters that enforce the
 * per-key limits; the total may miss a few requests of a key if the limiter was evicted).
 */
export async function keysWithUsage(env: Env, tenantId: string): Promise<KeyWithUsage[]> {
  const keys = await listApiKeys(env.DB, tenantId);
  if (keys.length === 0) return [];
  const usage = await limiter(env, tenantLimiterName(tenantId)).credentialUsage(keys.map((k) => `key:${k.id}`));
  return keys.map((k) => ({ ...k, usage: usage[`key:${k.id}`] ?? { minute: 0, hour: 0, day: 0, total: 0 } }));
}
