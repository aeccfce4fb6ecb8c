/**
 * D1 access for tenant-deployed servers and their versions (migrations/0007_tenant_servers.sql).
 * Every query carries the tenant except the name checks the router and the OAuth surface need
 * (src/tenancy/server-names.ts), which answer before any token is read. Every write that changes
 * which version a name serves (deploy, rollback, delete) forgets the isolate's cached MCP lookups
 * (src/tenancy/access-cache.ts), so the isolate that made it serves the very next call from D1.
 */
import { changingAccess } from '../tenancy/access-cache';

/** A deployed server with its active version. */
export interface TenantServerRecord {
  tenantId: string;
  name: string;
  title: string | null;
  description: string | null;
  activeVersion: number;
  egress: string[];
  sha256: string;
  tools: string[];
  createdAt: number;
  updatedAt: number;
}

/** One stored version, without its code. */
export interface VersionInfo {
  version: number;
  sha256: string;
  size: number;
  tools: string[];
  createdAt: number;
  active: boolean;
}

interface ServerRow {
  tenant_id: string;
  name: string;
  title: string | null;
  description: string | null;
  active_version: number;
  egress: string;
  sha256: string;
  tools: string;
  created_at: number;
  updated_at: number;
}

const SELECT_SERVER = `SELECT s.tenant_id, s.name, s.title, s.description, s.active_version, s.egress, s.created_at, s.updated_at, v.sha256, v.tools
  FROM tenant_servers s JOIN tenant_server_versions v ON v.tenant_id = s.tenant_id AND v.name = s.name AND v.version = s.active_version`;

function toRecord(r: ServerRow): TenantServerRecord {
  return {
    tenantId: r.tenant_id,
    name: r.name,
    title: r.title,
    description: r.description,
    activeVersion: r.active_version,
    egress: JSON.parse(r.egress) as string[],
    sha256: r.sha256,
    tools: JSON.parse(r.tools) as string[],
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The tenant's deployed server with its active version, or null. */
export async function getTenantServer(db: D1Database, tenantId: string, name: string): Promise<TenantServerRecord | null> {
  const row = await db.prepare(`${SELECT_SERVER} WHERE s.tenant_id = ? AND s.name = ?`).bind(tenantId, name).first<ServerRow>();
  return row ? toRecord(row) : null;
}

/** A row of `tenantServerOrUpstreamQuery`; null when the query was not run. */
export type TenantServerOrUpstreamRow = (Partial<ServerRow> & { has_upstream: number }) | null;

/**
 * One statement: the tenant's deployed server of this name (active version), and whether it has an
 * upstream of this name. A statement rather than a call so the gate can run it in the same D1 round
 * trip as the caller's credential (src/tenancy/server-names.ts).
 */
export function tenantServerOrUpstreamQuery(db: D1Database, tenantId: string, name: string): D1PreparedStatement {
  return db
    .prepare(
      `SELECT EXISTS (SELECT 1 FROM upstreams WHERE tenant_id = ?1 AND name = ?2) AS has_upstream, s.tenant_id, s.name, s.title, s.description, s.active_version,
       s.egress, s.created_at, s.updated_at, v.sha256, v.tools FROM (SELECT 1) LEFT JOIN tenant_servers s ON s.tenant_id = ?1 AND s.name = ?2
       LEFT JOIN tenant_server_versions v ON v.tenant_id = s.tenant_id AND v.name = s.name AND v.version = s.active_version`,
    )
    .bind(tenantId, name);
}

/** What a `tenantServerOrUpstreamQuery` row says. */
export function readTenantServerOrUpstream(row: TenantServerOrUpstreamRow): { module: TenantServerRecord | null; hasUpstream: boolean } {
  const module = row?.tenant_id && row.sha256 ? toRecord(row as ServerRow) : null;
  return { module, hasUpstream: row?.has_upstream === 1 };
}

/** The tenant's deployed servers, by name. */
export async function listTenantServers(db: D1Database, tenantId: string): Promise<TenantServerRecord[]> {
  const { results } = await db.prepare(`${SELECT_SERVER} WHERE s.tenant_id = ? ORDER BY s.name`).bind(tenantId).all<ServerRow>();
  return results.map(toRecord);
}

/** What a deploy writes. */
export interface NewVersion {
  source: string;
  compiled: string;
  sha256: string;
  size: number;
  tools: string[];
  title?: string;
  description?: string;
  egress?: string[];
}

/**
 * Store a new version and make it active, in one batch: the server row is created on first
 * deploy; title, description and egress change only when given. Returns the new version number.
 */
export async function insertVersion(db: D1Database, tenantId: string, name: string, v: NewVersion): Promise<number> {
  const now = Date.now();
  const next =
    ((
      await db
        .prepare('SELECT MAX(version) AS v FROM tenant_server_versions WHERE tenant_id = ? AND name = ?')
        .bind(tenantId, name)
        .first<{ v: number | null }>()
    )?.v ?? 0) + 1;
  await changingAccess(
    db.batch([
      db
        .prepare(
          `INSERT INTO tenant_servers (tenant_id, name, title, description, active_version, egress, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant_id, name) DO UPDATE SET active_version = excluded.active_version, updated_at = excluded.updated_at,
           title = COALESCE(?, title), description = COALESCE(?, description), egress = COALESCE(?, egress)`,
        )
        .bind(
          tenantId,
          name,
          v.title ?? null,
          v.description ?? null,
          next,
          JSON.stringify(v.egress ?? []),
          now,
          now,
          v.title ?? null,
          v.description ?? null,
          v.egress ? JSON.stringify(v.egress) : null,
        ),
      db
        .prepare(
          'INSERT INTO tenant_server_versions (tenant_id, name, version, source, compiled, sha256, size, tools, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .bind(tenantId, name, next, v.source, v.compiled, v.sha256, v.size, JSON.stringify(v.tools), now),
    ]),
  );
  return next;
}

/** Every stored version, newest first. */
export async function listVersions(db: D1Database, tenantId: string, name: string): Promise<VersionInfo[]> {
  const { results } = await db
    .prepare(
      `SELECT v.version, v.sha256, v.size, v.tools, v.created_at, (v.version = s.active_version) AS active FROM tenant_server_versions v
       JOIN tenant_servers s ON s.tenant_id = v.tenant_id AND s.name = v.name WHERE v.tenant_id = ? AND v.name = ? ORDER BY v.version DESC`,
    )
    .bind(tenantId, name)
    .all<{ version: number; sha256: string; size: number; tools: string; created_at: number; active: number }>();
  return results.map((r) => ({
    version: r.version,
    sha256: r.sha256,
    size: r.size,
    tools: JSON.parse(r.tools) as string[],
    createdAt: r.created_at,
    active: r.active === 1,
  }));
}

/** Make a stored version active; false when there is no such version. */
export async function activateVersion(db: D1Database, tenantId: string, name: string, version: number): Promise<boolean> {
  const res = await changingAccess(
    db
      .prepare(
        `UPDATE tenant_servers SET active_version = ?, updated_at = ? WHERE tenant_id = ? AND name = ?
       AND EXISTS (SELECT 1 FROM tenant_server_versions WHERE tenant_id = ? AND name = ? AND version = ?)`,
      )
      .bind(version, Date.now(), tenantId, name, tenantId, name, version)
      .run(),
  );
  return res.meta.changes > 0;
}

/** The metered code of one version (what the sandbox runs), or null. */
export async function compiledCode(db: D1Database, tenantId: string, name: string, version: number): Promise<string | null> {
  const row = await db
    .prepare('SELECT compiled FROM tenant_server_versions WHERE tenant_id = ? AND name = ? AND version = ?')
    .bind(tenantId, name, version)
    .first<{ compiled: string }>();
  return row?.compiled ?? null;
}

/** The uploaded source of one version, or null. */
export async function moduleSource(db: D1Database, tenantId: string, name: string, version: number): Promise<string | null> {
  const row = await db
    .prepare('SELECT source FROM tenant_server_versions WHERE tenant_id = ? AND name = ? AND version = ?')
    .bind(tenantId, name, version)
    .first<{ source: string }>();
  return row?.source ?? null;
}

/** Delete the server and every version; false when there was nothing to delete. */
export async function deleteTenantServer(db: D1Database, tenantId: string, name: string): Promise<boolean> {
  const [, res] = await changingAccess(
    db.batch([
      db.prepare('DELETE FROM tenant_server_versions WHERE tenant_id = ? AND name = ?').bind(tenantId, name),
      db.prepare('DELETE FROM tenant_servers WHERE tenant_id = ? AND name = ?').bind(tenantId, name),
    ]),
  );
  return (res?.meta.changes ?? 0) > 0;
}
