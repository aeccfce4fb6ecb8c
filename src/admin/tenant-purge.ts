import { alertsStub } from '../alerts/alerts-object';
import { upstreamStub } from '../gateway/upstream-state';
import { limiter, tenantLimiterName } from '../limits/limits';
import { log } from '../observability/log';
import { revokeUserGrants } from '../oauth/grant-revocation';
import { TenantFiles } from '../storage/tenant-files';
import { TenantKv } from '../storage/tenant-kv';
import { storageNamespace } from '../tenancy/model';

/**
 * The second half of deleting a tenant (the first is `deleteTenant`, which retires the
 * incarnation and removes its control-plane rows in one transaction): empty every store the
 * incarnation used. Nothing here is needed for safety, since a re-created tenant has a new
 * generation and so a new storage namespace, and every credential of the old one is gone; this
 * reclaims the space and ends what could still act (grants, health checks, limiter state).
 * Every step is idempotent, so a purge cut short is simply run again (the daily cron).
 */

interface RetiredRow {
  id: string;
  generation: number;
  users: string;
  upstreams: string;
  attempts: number;
}

/** Deletions per store per purge run; a larger tenant finishes over several runs. */
const BUDGET = 2000;
/** Give up retrying a purge that keeps failing (it stays listed for the operator, with its attempts). */
const MAX_ATTEMPTS = 30;

async function purgeOne(env: Env, row: RetiredRow): Promise<boolean> {
  const namespace = storageNamespace(row.id, row.generation);
  for (const userId of JSON.parse(row.users) as Array<string | null>) if (userId) await revokeUserGrants(env, userId);
  // Upstream state and the limiter are named by tenant id, not namespace: once the id lives again
  // they are the new tenant's (registering an upstream resets its state object anyway).
  const live = await env.DB.prepare('SELECT 1 FROM tenants WHERE id = ?').bind(row.id).first();
  if (!live) {
    for (const name of JSON.parse(row.upstreams) as Array<string | null>) if (name) await upstreamStub(env, { tenant: row.id, name }).reset();
    await limiter(env, tenantLimiterName(row.id)).forget();
    await alertsStub(env, row.id).reset();
  }
  await env.TENANT_DATABASE.get(env.TENANT_DATABASE.idFromName(namespace)).destroy();
  const kvDone = await new TenantKv(env.DATA_KV, namespace).purge(BUDGET);
  const filesDone = await new TenantFiles(env.FILES, namespace).purge(BUDGET);
  return kvDone && filesDone;
}

/**
 * Purge retired incarnations not yet purged (only `tenantId`'s when given). Returns how many are
 * complete and how many remain. A failure is logged and counted, never thrown.
 */
export async function purgeRetiredTenants(env: Env, tenantId?: string, now = Date.now()): Promise<{ purged: number; pending: number }> {
  const { results } = await env.DB.prepare(
    'SELECT id, generation, users, upstreams, attempts FROM retired_tenants WHERE purged_at IS NULL AND attempts < ?1 AND (?2 IS NULL OR id = ?2) ORDER BY deleted_at LIMIT 20',
  )
    .bind(MAX_ATTEMPTS, tenantId ?? null)
    .all<RetiredRow>();
  let purged = 0;
  for (const row of results) {
    let done = false;
    try {
      done = await purgeOne(env, row);
    } catch (error) {
      log('error', 'tenant.purge_failed', { tenant: row.id, generation: row.generation, error: String(error).slice(0, 200) });
    }
    await env.DB.prepare('UPDATE retired_tenants SET attempts = attempts + 1, purged_at = ?3 WHERE id = ?1 AND generation = ?2')
      .bind(row.id, row.generation, done ? now : null)
      .run();
    if (done) purged++;
    log('info', done ? 'tenant.purged' : 'tenant.purge_partial', { tenant: row.id, generation: row.generation });
  }
  return { purged, pending: results.length - purged };
}
