import { findServer, SERVER_NAME_PATTERN, type HostedServerEntry } from '../../servers/registry';
import { getUpstream } from '../gateway/upstream-store';
import { cachedAccess } from './access-cache';
import type { UpstreamRecord } from '../gateway/upstream-model';
import {
  getTenantServer,
  readTenantServerOrUpstream,
  tenantServerOrUpstreamQuery,
  type TenantServerOrUpstreamRow,
  type TenantServerRecord,
} from '../tenant-servers/module-store';

/**
 * What a server name is. Compiled-in servers (servers/registry.ts) are the same for every tenant;
 * every other name is tenant-defined, an upstream (the gateway) or a deployed module (the sandbox),
 * and means something only within the tenant that defined it. The router and the OAuth surface ask
 * "does any tenant define it" before a token is read; the gate asks "what is it for this tenant"
 * after, and answers a name another tenant defined exactly as an unknown one.
 */

/** Registry entry of the class serving every tenant upstream. */
export function upstreamEntry(name: string): HostedServerEntry {
  return { name, binding: 'GATEWAY_SERVER', className: 'GatewayServer', title: name };
}

/** Registry entry of the class serving every tenant-deployed module. */
export function moduleEntry(name: string, title?: string | null): HostedServerEntry {
  return { name, binding: 'TENANT_MODULE_SERVER', className: 'TenantModuleServer', title: title ?? name };
}

/** A tenant-defined name, resolved for one tenant. */
export type TenantDefined =
  { kind: 'upstream'; entry: HostedServerEntry; upstream: UpstreamRecord } | { kind: 'module'; entry: HostedServerEntry; module: TenantServerRecord };

/** What `name` is for `tenantId` among its upstreams and deployed modules; null when neither. */
export async function tenantDefinedServer(db: D1Database, tenantId: string, name: string): Promise<TenantDefined | null> {
  return tenantDefinedFrom(db, tenantId, name, await tenantDefinedQuery(db, tenantId, name).first());
}

/**
 * `tenantDefinedServer` for the MCP gate, beside its cached credential lookups (access-cache.ts): a
 * deployed module's answer (its active version) is kept per isolate for at most ACCESS_CACHE_TTL_MS
 * and forgotten at once when this isolate deploys, rolls back or deletes a module (module-store.ts),
 * so a busy deployed server costs no D1 read per call, as a compiled-in one. Another isolate sees a
 * redeploy, rollback or delete within that bound, the same bound as a key's revocation. Upstream
 * answers and "no such server" are never kept. `row` is `tenantDefinedQuery`'s, when the caller
 * already read it in its own D1 round trip.
 */
export function tenantDefinedForMcp(db: D1Database, tenantId: string, name: string, row?: unknown): Promise<TenantDefined | null> {
  return cachedAccess(
    `defined\n${tenantId}\n${name}`,
    () => (row !== undefined ? tenantDefinedFrom(db, tenantId, name, row) : tenantDefinedServer(db, tenantId, name)),
    (defined) => defined?.kind === 'module',
  );
}

/**
 * The one statement `tenantDefinedServer` starts with, for a caller that runs it in the same D1
 * round trip as its own query (the MCP gate batches it with the API key's, so a deployed module's
 * call costs no D1 round trip more than a compiled-in server's). Finish with `tenantDefinedFrom`.
 */
export function tenantDefinedQuery(db: D1Database, tenantId: string, name: string): D1PreparedStatement {
  return tenantServerOrUpstreamQuery(db, tenantId, name);
}

/** What `name` is for `tenantId`, from the row `tenantDefinedQuery` returned (an upstream's own row is read after). */
export async function tenantDefinedFrom(db: D1Database, tenantId: string, name: string, row: unknown): Promise<TenantDefined | null> {
  const { module, hasUpstream } = readTenantServerOrUpstream((row ?? null) as TenantServerOrUpstreamRow);
  if (hasUpstream) {
    const upstream = await getUpstream(db, tenantId, name);
    if (upstream) return { kind: 'upstream', entry: upstreamEntry(name), upstream };
  }
  if (module) return { kind: 'module', entry: moduleEntry(name, module.title), module };
  return null;
}

/** Names found defined, with when: a yes is trusted this long per isolate (the OAuth surface's own name TTL). */
const definedNames = new Map<string, number>();
const DEFINED_NAME_TTL_MS = 10_000;
const MAX_DEFINED_NAMES = 10_000;

/**
 * Whether any tenant defined `name` (the router's choice, before a token is read, between the real
 * protected resource and a stand-in; no tenant is revealed). A yes is remembered for 10 s per isolate,
 * so a tenant-defined server's calls skip this D1 read: a stale yes (the name was just deleted) is
 * harmless because the stand-in and a real resource answer alike and the gate then finds no server
 * for the caller's tenant, exactly as the OAuth surface's 10 s list of names already allows. A no is
 * never remembered, so a server deployed a moment ago is reachable at once.
 */
export async function tenantDefinedNameExists(db: D1Database, name: string, now = Date.now()): Promise<boolean> {
  if (findServer(name) || !SERVER_NAME_PATTERN.test(name)) return false;
  const seen = definedNames.get(name);
  if (seen !== undefined && now - seen < DEFINED_NAME_TTL_MS) return true;
  const row = await db
    .prepare('SELECT 1 AS one FROM upstreams WHERE name = ?1 UNION ALL SELECT 1 FROM tenant_servers WHERE name = ?1 LIMIT 1')
    .bind(name)
    .first();
  if (row === null) {
    definedNames.delete(name);
    return false;
  }
  if (definedNames.size >= MAX_DEFINED_NAMES) definedNames.clear();
  definedNames.set(name, now);
  return true;
}

/** Every distinct tenant-defined name (the OAuth surface declares one protected resource per name). */
export async function tenantDefinedNames(db: D1Database): Promise<string[]> {
  const { results } = await db.prepare('SELECT name FROM upstreams UNION SELECT name FROM tenant_servers ORDER BY name').all<{ name: string }>();
  return results.map((r) => r.name).filter((n) => !findServer(n));
}

/** Why `name` cannot be used for a new upstream or module of `tenantId`, or null when it can. */
export async function nameConflict(db: D1Database, tenantId: string, name: string, creating: 'upstream' | 'module'): Promise<string | null> {
  if (findServer(name)) return `"${name}" is a hosted server's name; choose another`;
  const other = creating === 'upstream' ? await getTenantServer(db, tenantId, name) : await getUpstream(db, tenantId, name);
  if (other) return `This tenant already has ${creating === 'upstream' ? 'a deployed server' : 'an upstream'} named "${name}"`;
  return null;
}
