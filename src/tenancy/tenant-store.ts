import type { Role, Tenant, TenantStatus, User } from './model';
import { cachedAccess, changingAccess } from './access-cache';
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from '../crypto/password';
import {
  columnsAfter,
  columnValues,
  DEFAULT_TENANT_LIMITS,
  LIMIT_SET_SQL,
  limitColumnsSql,
  limitsFromRow,
  type LimitColumns,
  type LimitsPatch,
  type TenantLimits,
} from '../limits/tenant-limits';

/**
 * D1 access for tenants and users. Every query is parameterised and carries the tenant, so a
 * caller can never read across tenants by forgetting a WHERE clause.
 */

interface TenantRow extends Partial<LimitColumns> {
  id: string;
  name: string;
  status: TenantStatus;
  servers: string;
  created_at: number;
}

interface UserRow {
  id: string;
  tenant_id: string;
  email: string;
  role: Role;
  created_at: number;
  password_hash: string;
}

function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    servers: JSON.parse(row.servers) as string[],
    limits: limitsFromRow(row),
    createdAt: row.created_at,
  };
}

function toUser(row: UserRow): User {
  return { id: row.id, tenantId: row.tenant_id, email: row.email, role: row.role, createdAt: row.created_at };
}

/** Thrown when an insert collides with an existing id, or an email already used in the same tenant. */
export class ConflictError extends Error {}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && /UNIQUE constraint failed|PRIMARY KEY/i.test(error.message);
}

/** Create a tenant; throws ConflictError when the id is taken. */
export async function createTenant(db: D1Database, t: { id: string; name: string; servers: string[] }): Promise<Tenant> {
  const createdAt = Date.now();
  try {
    // The next generation after every retired incarnation of this id: its storage starts empty.
    await db
      .prepare(
        'INSERT INTO tenants (id, name, status, servers, created_at, generation) VALUES (?1, ?2, ?3, ?4, ?5, (SELECT COALESCE(MAX(generation) + 1, 0) FROM retired_tenants WHERE id = ?1))',
      )
      .bind(t.id, t.name, 'active', JSON.stringify(t.servers), createdAt)
      .run();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError('tenant exists');
    throw error;
  }
  return { id: t.id, name: t.name, status: 'active', servers: t.servers, limits: { ...DEFAULT_TENANT_LIMITS }, createdAt };
}

/** The tenant, or null. */
export async function getTenant(db: D1Database, id: string): Promise<Tenant | null> {
  const row = await db.prepare('SELECT * FROM tenants WHERE id = ?').bind(id).first<TenantRow>();
  return row ? toTenant(row) : null;
}

/** Create a user in a tenant with a hashed password; throws ConflictError when the tenant already has this email. */
export async function createUser(db: D1Database, u: { tenantId: string; email: string; password: string; role: Role }): Promise<User> {
  const id = `usr_${crypto.randomUUID().replaceAll('-', '')}`;
  const createdAt = Date.now();
  const hash = await hashPassword(u.password);
  try {
    await db
      .prepare('INSERT INTO users (id, tenant_id, email, password_hash, role, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .bind(id, u.tenantId, u.email, hash, u.role, createdAt)
      .run();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError('user exists');
    throw error;
  }
  return { id, tenantId: u.tenantId, email: u.email, role: u.role, createdAt };
}

/** At most this many accounts share one email across tenants before sign-in needs the organization. */
const MAX_SIGN_IN_CANDIDATES = 5;

/**
 * Check an email and password, in `tenantId` when the sign-in form named one. Without it, every
 * account with this email (emails are unique per tenant only) is tried, up to
 * MAX_SIGN_IN_CANDIDATES: exactly one whose password matches signs in, several are `ambiguous`
 * (the form then asks for the organization). Unknown emails still cost one PBKDF2 run, so the
 * answer time does not tell an outsider whether an account exists.
 */
export async function authenticate(db: D1Database, email: string, password: string, tenantId?: string): Promise<User | null | 'ambiguous'> {
  const { results } = tenantId
    ? await db.prepare('SELECT * FROM users WHERE email = ? AND tenant_id = ?').bind(email, tenantId).all<UserRow>()
    : await db.prepare('SELECT * FROM users WHERE email = ? ORDER BY created_at LIMIT ?').bind(email, MAX_SIGN_IN_CANDIDATES).all<UserRow>();
  if (results.length === 0) {
    await verifyPassword(password, DUMMY_PASSWORD_HASH);
    return null;
  }
  const matches: UserRow[] = [];
  for (const row of results) if (await verifyPassword(password, row.password_hash)) matches.push(row);
  if (matches.length > 1) return 'ambiguous';
  return matches[0] ? toUser(matches[0]) : null;
}

/** What the gate needs per request, in one query: the user's current role and the tenant's state. */
export interface AccessRecord {
  role: Role;
  tenantStatus: TenantStatus;
  servers: string[];
  limits: TenantLimits;
  /** The tenant's incarnation (storage namespace), see `storageNamespace`. */
  generation: number;
}

/** Current role and tenant state for a user, or null when the user or tenant is gone. */
export async function getAccessRecord(db: D1Database, tenantId: string, userId: string): Promise<AccessRecord | null> {
  const row = await db
    .prepare(
      `SELECT u.role AS role, t.status AS status, t.servers AS servers, t.generation AS generation, ${limitColumnsSql('t')} FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.id = ? AND u.tenant_id = ?`,
    )
    .bind(userId, tenantId)
    .first<{ role: Role; status: TenantStatus; servers: string; generation: number } & LimitColumns>();
  return row
    ? { role: row.role, tenantStatus: row.status, servers: JSON.parse(row.servers) as string[], limits: limitsFromRow(row), generation: row.generation }
    : null;
}

/**
 * `getAccessRecord` for MCP routes (the gate, per request of an OAuth grant): kept per isolate for
 * at most ACCESS_CACHE_TTL_MS and forgotten at once when this isolate changes any user, key or
 * tenant (src/tenancy/access-cache.ts). Sign-in, consent and the dashboard read D1 exactly.
 */
export function getAccessRecordForMcp(db: D1Database, tenantId: string, userId: string): Promise<AccessRecord | null> {
  return cachedAccess(
    `user\n${tenantId}\n${userId}`,
    () => getAccessRecord(db, tenantId, userId),
    (record) => record !== null,
  );
}

/** Every tenant, oldest first (operator view). */
export async function listTenants(db: D1Database): Promise<Tenant[]> {
  const { results } = await db.prepare('SELECT * FROM tenants ORDER BY created_at').all<TenantRow>();
  return results.map(toTenant);
}

/** Apply a partial update to a tenant the caller has loaded. */
export async function updateTenant(
  db: D1Database,
  current: Tenant,
  patch: { name?: string; status?: TenantStatus; servers?: string[]; limits?: LimitsPatch },
): Promise<Tenant> {
  const { limits: limitsPatch, ...rest } = patch;
  const columns = columnsAfter(current.limits, limitsPatch ?? {});
  const next: Tenant = { ...current, ...rest, limits: limitsFromRow(columns) };
  await changingAccess(
    db
      .prepare(`UPDATE tenants SET name = ?, status = ?, servers = ?, ${LIMIT_SET_SQL} WHERE id = ?`)
      .bind(next.name, next.status, JSON.stringify(next.servers), ...columnValues(columns), current.id)
      .run(),
  );
  return next;
}

/**
 * Delete a tenant: in one transaction, retire its incarnation (recording which users' grants and
 * which upstreams' state objects the purge must clear) and delete its control-plane rows (users,
 * keys, upstreams with their sealed credentials, deployed modules, the tenant). From then on nothing authenticates
 * as the tenant, and a tenant created with the same id gets the next generation. The data in the
 * stores is removed by `purgeRetiredTenant` (src/admin/tenant-purge.ts).
 */
export async function deleteTenant(db: D1Database, id: string, now = Date.now()): Promise<boolean> {
  const results = await changingAccess(
    db.batch([
      db
        .prepare(
          `INSERT INTO retired_tenants (id, generation, deleted_at, users, upstreams)
           SELECT id, generation, ?2, (SELECT json_group_array(id) FROM users WHERE tenant_id = ?1),
                  (SELECT json_group_array(name) FROM upstreams WHERE tenant_id = ?1)
           FROM tenants WHERE id = ?1`,
        )
        .bind(id, now),
      db.prepare('DELETE FROM api_keys WHERE tenant_id = ?').bind(id),
      db.prepare('DELETE FROM users WHERE tenant_id = ?').bind(id),
      db.prepare('DELETE FROM upstreams WHERE tenant_id = ?').bind(id),
      db.prepare('DELETE FROM tenant_server_versions WHERE tenant_id = ?').bind(id),
      db.prepare('DELETE FROM tenant_servers WHERE tenant_id = ?').bind(id),
      db.prepare('DELETE FROM tenants WHERE id = ?').bind(id),
    ]),
  );
  return (results.at(-1)?.meta.changes ?? 0) > 0;
}

/** The tenant's users (never password hashes). */
export async function listUsers(db: D1Database, tenantId: string): Promise<User[]> {
  const { results } = await db.prepare('SELECT * FROM users WHERE tenant_id = ? ORDER BY created_at').bind(tenantId).all<UserRow>();
  return results.map(toUser);
}

/** Change a user's role and/or password; null when the tenant has no such user. */
export async function updateUser(db: D1Database, tenantId: string, id: string, patch: { role?: Role; password?: string }): Promise<User | null> {
  const row = await db.prepare('SELECT * FROM users WHERE id = ? AND tenant_id = ?').bind(id, tenantId).first<UserRow>();
  if (!row) return null;
  const role = patch.role ?? row.role;
  const hash = patch.password ? await hashPassword(patch.password) : row.password_hash;
  await changingAccess(db.prepare('UPDATE users SET role = ?, password_hash = ? WHERE id = ? AND tenant_id = ?').bind(role, hash, id, tenantId).run());
  return toUser({ ...row, role });
}

/** Delete a user of the tenant; false when there is none. */
export async function deleteUser(db: D1Database, tenantId: string, id: string): Promise<boolean> {
  const res = await changingAccess(db.prepare('DELETE FROM users WHERE id = ? AND tenant_id = ?').bind(id, tenantId).run());
  return res.meta.changes > 0;
}

/** Users and API keys per tenant, in two grouped queries (operator view); tenants without any are absent. */
export async function countUsersAndKeys(db: D1Database): Promise<Map<string, { users: number; keys: number }>> {
  const [users, keys] = await db.batch<{ tenant_id: string; n: number }>([
    db.prepare('SELECT tenant_id, COUNT(*) AS n FROM users GROUP BY tenant_id'),
    db.prepare('SELECT tenant_id, COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL GROUP BY tenant_id'),
  ]);
  const counts = new Map<string, { users: number; keys: number }>();
  const entry = (id: string) => counts.get(id) ?? counts.set(id, { users: 0, keys: 0 }).get(id)!;
  for (const r of users?.results ?? []) entry(r.tenant_id).users = r.n;
  for (const r of keys?.results ?? []) entry(r.tenant_id).keys = r.n;
  return counts;
}
