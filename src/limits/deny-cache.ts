/**
 * An isolate-local memo of tenants whose request window is full: once the TenantLimiter has
 * refused a tenant for `tenant_rpm` until the end of its one-minute window, further requests of
 * that tenant reaching the same isolate are refused without the D1 read and the limiter round
 * trip, so a tenant hammering far over its limit costs the platform as little as possible. This
 * stays exact: a window's count only grows, so a window the limiter reported full stays full.
 */
const fullUntil = new Map<string, number>();
const MAX_ENTRIES = 10_000;

/** Seconds until the tenant's full window ends, or 0 when it is not known to be full. */
export function knownFullFor(tenantId: string, now = Date.now()): number {
  const until = fullUntil.get(tenantId);
  if (until === undefined) return 0;
  if (until <= now) {
    fullUntil.delete(tenantId);
    return 0;
  }
  return Math.ceil((until - now) / 1000);
}

/** Remember that the limiter refused the tenant for `retryAfterSeconds`. */
export function rememberFull(tenantId: string, retryAfterSeconds: number, now = Date.now()): void {
  if (fullUntil.size >= MAX_ENTRIES) fullUntil.clear();
  fullUntil.set(tenantId, now + retryAfterSeconds * 1000);
}
