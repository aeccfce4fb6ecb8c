/**
 * Where each tenant's audit trail lives: the one place that turns a tenant and a time into a
 * Durable Object of the `AuditStore` class. Three kinds of object, all of that class:
 *
 * - `shard:<scope>:<yyyy-mm-dd>`: one UTC day of one scope's events, with their rollups (metrics);
 * - `dir:<scope>`: the scope's directory, the days that have a shard and which were exported to R2;
 * - `registry`: every scope that ever had a shard (the operator's cross-tenant view, the daily cron).
 *
 * A scope is a tenant id, or `_platform` for events whose caller was not identified. Tenant ids
 * match `^[a-z0-9][a-z0-9-]{1,31}$`, so they never contain `:` and never equal `_platform`: no
 * tenant can name another's store.
 */

/** Scope of the events without an identified tenant (bad tokens, unknown accounts, operator-wide changes). */
export const PLATFORM_SCOPE = '_platform';
export const DAY_MS = 86_400_000;

/** The store scope of an event's tenant. */
export function scopeOf(tenant: string | null): string {
  return tenant ?? PLATFORM_SCOPE;
}

/** The UTC day (`yyyy-mm-dd`) a time falls in: the shard key. */
export function dayOf(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

/** Whether `text` is a real UTC day in the shard key's form (`2026-02-30` and `2026-13-45` are not). */
export function isDay(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) && Number.isFinite(dayStart(text)) && dayOf(dayStart(text)) === text;
}

/** Start of a `yyyy-mm-dd` day in ms. */
export function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

const stub = (env: Env, name: string) => env.AUDIT_STORE.get(env.AUDIT_STORE.idFromName(name));

/** The shard holding `scope`'s events of `day`. */
export const shardStore = (env: Env, scope: string, day: string) => stub(env, `shard:${scope}:${day}`);
/** The directory of `scope`'s shards. */
export const directoryStore = (env: Env, scope: string) => stub(env, `dir:${scope}`);
/** The registry of every scope with a store. */
export const registryStore = (env: Env) => stub(env, 'registry');
