/** Retention when a tenant has not chosen one. */
export const DEFAULT_RETENTION_DAYS = 30;
const DAY_MS = 86_400_000;

/**
 * Delete audit events older than their tenant's retention (`tenants.audit_retention_days`), and
 * platform-level events (no tenant, or a deleted tenant) older than the default. Returns how many
 * rows went. Runs from the scheduled handler; `now` is a parameter so tests can move time.
 */
export async function enforceRetention(db: D1Database, now = Date.now()): Promise<number> {
  const results = await db.batch([
    db.prepare(
      `DELETE FROM audit_events WHERE tenant IN (SELECT id FROM tenants)
         AND time < ?1 - (SELECT audit_retention_days FROM tenants WHERE tenants.id = audit_events.tenant) * ${DAY_MS}`,
    ).bind(now),
    db.prepare('DELETE FROM audit_events WHERE (tenant IS NULL OR tenant NOT IN (SELECT id FROM tenants)) AND time < ?1').bind(now - DEFAULT_RETENTION_DAYS * DAY_MS),
  ]);
  return results.reduce((sum, r) => sum + (r.meta.changes ?? 0), 0);
}
