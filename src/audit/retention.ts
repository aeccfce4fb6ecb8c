import { mapBounded } from './audit-query';
import { migrateLegacyAudit } from './legacy-d1';
import { DAY_MS, dayOf, dayStart, directoryStore, registryStore, shardStore } from './store-names';

/** Retention when a tenant has not chosen one (and for platform-level events and deleted tenants). */
export const DEFAULT_RETENTION_DAYS = 30;
/** Legacy D1 rows moved per daily run (an existing deployment's backlog drains over a few runs, or at once through the admin API). */
const MIGRATE_PER_RUN = 20_000;

export interface MaintenanceReport {
  migrated: number;
  exported: number;
  deleted: number;
  failedScopes: number;
}

/**
 * The daily audit job, from the scheduled handler (`now` is a parameter so tests can move time):
 *
 * 1. move a batch of legacy D1 rows into the stores (legacy-d1.ts);
 * 2. for every scope in the registry, write each finished day not yet exported to R2 as JSON Lines
 *    (audit-archive.ts), including a day that received late events since its last export;
 * 3. then apply retention (`tenants.audit_retention_days`, default 30): a day wholly past it is
 *    dropped, but only once exported; the day that holds the cutoff loses the older events.
 *
 * A scope that fails is logged and retried the next day; the others go on.
 */
export async function maintainAudit(env: Env, now = Date.now()): Promise<MaintenanceReport> {
  const report: MaintenanceReport = { migrated: 0, exported: 0, deleted: 0, failedScopes: 0 };
  report.migrated = (await migrateLegacyAudit(env, MIGRATE_PER_RUN)).migrated;
  const { results } = await env.DB.prepare('SELECT id, audit_retention_days AS days FROM tenants').all<{ id: string; days: number }>();
  const retention = new Map(results.map((r) => [r.id, r.days]));
  const today = dayOf(now);
  await mapBounded(await registryStore(env).scopes(), 8, async (scope) => {
    try {
      const cutoff = now - (retention.get(scope) ?? DEFAULT_RETENTION_DAYS) * DAY_MS;
      const directory = directoryStore(env, scope);
      for (const { day, exported } of await directory.days()) {
        const shard = shardStore(env, scope, day);
        const finished = day < today;
        if (finished && !exported) {
          await shard.archive(scope, day);
          await directory.markExported(day);
          report.exported++;
        }
        if (dayStart(day) + DAY_MS <= cutoff && finished) {
          report.deleted += await shard.drop();
          await directory.forgetDay(day);
        } else if (dayStart(day) < cutoff) {
          report.deleted += await shard.deleteBefore(cutoff);
        }
      }
    } catch (error) {
      report.failedScopes++;
      console.error(JSON.stringify({ level: 'error', event: 'audit.maintenance_failed', scope, error: String(error).slice(0, 200) }));
    }
  });
  return report;
}
