import type { Role, TenantStatus } from './model';
import { base64url, safeEqual, toHex } from '../crypto/secrets';
import { cachedAccess, changingAccess } from './access-cache';
import {
  keyLimitsFromRow,
  limitColumnsSql,
  limitsFromRow,
  type KeyLimitColumns,
  type KeyLimits,
  type KeyLimitsPatch,
  type LimitColumns,
  type TenantLimits,
} from '../limits/tenant-limits';

/**
 * API keys: `smcp_<tenantId>_<secret>` with a 32-byte random secret. Only a SHA-256 of the secret
 * is stored (a fast hash is right for high-entropy secrets), the key is shown once at creation,
 * and a rotated key keeps working for a grace period so clients can be redeployed.
 */

/** What every API key starts with: how a bearer is told apart from an OAuth access token. */
export const API_KEY_PREFIX = 'smcp_';

export const KEY_PATTERN = /^smcp_([a-z0-9][a-z0-9-]{1,31})_([A-Za-z0-9_-]{43})$/;

/** How long a rotated-out key keeps working unless the caller asks for another grace. */
export const DEFAULT_ROTATION_GRACE_HOURS = 24;

export interface ApiKey {
  id: string;
  tenantId: string;
  name: string;
  role: Role;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  replacedBy: string | null;
  /** The key's own request limits; null = its tenant's per-credential default. */
  limits: KeyLimits;
}

interface KeyRow extends KeyLimitColumns {
  id: string;
  tenant_id: string;
  name: string;
  role: Role;
  secret_hash: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
  replaced_by: string | null;
}

function toKey(r: KeyRow): ApiKey {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    role: r.role,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
    replacedBy: r.replaced_by,
    limits: keyLimitsFromRow(r),
  };
}

/** One encoder per isolate: the hash runs on every MCP request presenting a key. */
const encoder = new TextEncoder();

async function secretHash(secret: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', encoder.encode(`smcp-api-key\n${secret}`)));
}

/** Create a key; the returned `key` is the only time the secret exists outside the caller. */
export async function createApiKey(
  db: D1Database,
  k: { tenantId: string; name: string; role: Role; expiresAt: number | null },
): Promise<{ key: string; record: ApiKey }> {
  const secret = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const id = `key_${crypto.randomUUID().replaceAll('-', '').slice(0, 20)}`;
  const createdAt = Date.now();
  await db
    .prepare('INSERT INTO api_keys (id, tenant_id, name, role, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .bind(id, k.tenantId, k.name, k.role, await secretHash(secret), createdAt, k.expiresAt)
    .run();
  const record: ApiKey = {
    id,
    tenantId: k.tenantId,
    name: k.name,
    role: k.role,
    createdAt,
    expiresAt: k.expiresAt,
    lastUsedAt: null,
    revokedAt: null,
    replacedBy: null,
    limits: { perMinute: null, perHour: null, perDay: null },
  };
  return { key: `${API_KEY_PREFIX}${k.tenantId}_${secret}`, record };
}

/** Why a presented key is not accepted; `null` means it is. */
export type KeyRefusal = 'malformed' | 'unknown' | 'revoked' | 'expired';

/**
 * Resolve a presented key to its record, and read its tenant's current status and enabled servers
 * in the same query (so the gate need not make a second D1 round trip per MCP request). The hash is
 * looked up by index and then compared in constant time; the tenant in the key must match the
 * stored one. `tenant` is null if the tenant row is gone. Exact (D1 every time): the admin API uses
 * it; MCP routes use `verifyApiKeyForMcp`.
 *
 * `alongside` is one more statement about the key's tenant run in the same D1 round trip (a batch);
 * its first row comes back as `alongside` only when the key is accepted, so nothing is learned about
 * a tenant from a key that is not its own.
 */
export async function verifyApiKey(
  db: D1Database,
  presented: string,
  now = Date.now(),
  alongside?: (tenantId: string) => D1PreparedStatement,
): Promise<VerifiedKey | { refusal: KeyRefusal }> {
  return verifyWith(presented, now, (tenantId, hash) => lookupKey(db, tenantId, hash, alongside));
}

/**
 * `verifyApiKey` for MCP routes: an accepted key's lookup (the key and its tenant's state) is kept
 * per isolate for at most ACCESS_CACHE_TTL_MS, and forgotten at once when this isolate changes any
 * key, user or tenant (src/tenancy/access-cache.ts). Expiry is checked on every request. The
 * `alongside` row is never cached: it comes back only from a lookup that went to D1 (absent on a
 * cache hit, so the caller reads it itself). The cache is keyed by the secret's hash (an exact match
 * of a hash of a 32-byte secret leaks nothing through timing), never by the secret.
 */
export async function verifyApiKeyForMcp(
  db: D1Database,
  presented: string,
  now = Date.now(),
  alongside?: (tenantId: string) => D1PreparedStatement,
): Promise<VerifiedKey | { refusal: KeyRefusal }> {
  let extra: VerifiedKey['alongside'];
  const verified = await verifyWith(presented, now, (tenantId, hash) =>
    cachedAccess(
      `key\n${tenantId}\n${hash}`,
      async (): Promise<VerifiedKey | { refusal: KeyRefusal }> => {
        const looked = await lookupKey(db, tenantId, hash, alongside);
        if ('refusal' in looked) return looked;
        extra = looked.alongside;
        return { key: looked.key, tenant: looked.tenant };
      },
      (v) => !('refusal' in v),
    ),
  );
  return extra === undefined || 'refusal' in verified ? verified : { ...verified, alongside: extra };
}

/** A presented key that passed the checks, with its tenant's state (and the `alongside` row when asked for and read). */
export type VerifiedKey = { key: ApiKey; tenant: KeyTenantState | null; alongside?: Record<string, unknown> | null };

/**
 * The steps every verification takes, in one place: parse the presented key (malformed → refusal),
 * hash its secret (the secret itself goes no further), look the hash up in the key's tenant with
 * `lookup` (which compares it in constant time and refuses unknown and revoked keys), then refuse an
 * expired key. The two callers differ only in `lookup` (straight to D1, or through the access cache).
 */
async function verifyWith(
  presented: string,
  now: number,
  lookup: (tenantId: string, hash: string) => Promise<VerifiedKey | { refusal: KeyRefusal }>,
): Promise<VerifiedKey | { refusal: KeyRefusal }> {
  const match = KEY_PATTERN.exec(presented);
  if (!match) return { refusal: 'malformed' };
  const [, tenantId, secret] = match as unknown as [string, string, string];
  return unexpired(await lookup(tenantId, await secretHash(secret)), now);
}

function unexpired(found: VerifiedKey | { refusal: KeyRefusal }, now: number): VerifiedKey | { refusal: KeyRefusal } {
  if ('refusal' in found) return found;
  if (found.key.expiresAt !== null && found.key.expiresAt <= now) return { refusal: 'expired' };
  return found;
}

/** The key row with the given secret hash in `tenantId`, and its tenant; unknown and revoked keys are refusals (expiry is the caller's). */
async function lookupKey(
  db: D1Database,
  tenantId: string,
  hash: string,
  alongside?: (tenantId: string) => D1PreparedStatement,
): Promise<VerifiedKey | { refusal: KeyRefusal }> {
  type Row = KeyRow & { tenant_status: TenantStatus | null; tenant_servers: string | null; tenant_generation: number | null } & LimitColumns;
  const statement = db
    .prepare(
      `SELECT k.*, t.status AS tenant_status, t.servers AS tenant_servers, t.generation AS tenant_generation, ${limitColumnsSql('t')} FROM api_keys k LEFT JOIN tenants t ON t.id = k.tenant_id WHERE k.secret_hash = ? AND k.tenant_id = ?`,
    )
    .bind(hash, tenantId);
  let row: Row | null;
  let extra: Record<string, unknown> | null | undefined;
  if (alongside) {
    const [keyRows, extraRows] = await db.batch<Record<string, unknown>>([statement, alongside(tenantId)]);
    row = (keyRows?.results[0] as Row | undefined) ?? null;
    extra = extraRows?.results[0] ?? null;
  } else row = await statement.first<Row>();
  if (!row || !(await safeEqual(row.secret_hash, hash))) return { refusal: 'unknown' };
  if (row.revoked_at !== null) return { refusal: 'revoked' };
  const tenant =
    row.tenant_status === null
      ? null
      : {
          status: row.tenant_status,
          servers: JSON.parse(row.tenant_servers ?? '[]') as string[],
          limits: limitsFromRow(row, keyLimitsFromRow(row)),
          generation: row.tenant_generation ?? 0,
        };
  return { key: toKey(row), tenant, ...(alongside ? { alongside: extra ?? null } : {}) };
}

/** A key's tenant as read alongside the key. */
export interface KeyTenantState {
  status: TenantStatus;
  servers: string[];
  limits: TenantLimits;
  /** The tenant's incarnation (storage namespace), see `storageNamespace`. */
  generation: number;
}

/** `last_used_at` is kept to this precision: a key in steady use is stamped once per interval per isolate. */
export const TOUCH_INTERVAL_MS = 60_000;
const lastTouched = new Map<string, number>();

/**
 * Stamp last use; the write is for the caller to run off the hot path (waitUntil). Throttled per
 * isolate so a busy key costs one D1 write a minute rather than one per MCP request (the benchmark
 * showed the per-request write as a large share of the platform's overhead); the first use in an
 * isolate always writes. Undefined, decided synchronously, when there is nothing to write.
 */
export function touchApiKey(db: D1Database, id: string, now = Date.now()): Promise<void> | undefined {
  const last = lastTouched.get(id);
  if (last !== undefined && now - last < TOUCH_INTERVAL_MS) return undefined;
  if (lastTouched.size >= 10_000) lastTouched.clear();
  lastTouched.set(id, now);
  return db
    .prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?')
    .bind(now, id)
    .run()
    .then(() => undefined);
}

/** The tenant's keys, newest first (never the secrets). */
export async function listApiKeys(db: D1Database, tenantId: string): Promise<ApiKey[]> {
  const { results } = await db.prepare('SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at DESC').bind(tenantId).all<KeyRow>();
  return results.map(toKey);
}

/** One key of the tenant, or null (another tenant's key id is "not found" too). */
export async function getApiKey(db: D1Database, tenantId: string, id: string): Promise<ApiKey | null> {
  const row = await db.prepare('SELECT * FROM api_keys WHERE id = ? AND tenant_id = ?').bind(id, tenantId).first<KeyRow>();
  return row ? toKey(row) : null;
}

/** Revoke now; false when the tenant has no such key. */
export async function revokeApiKey(db: D1Database, tenantId: string, id: string): Promise<boolean> {
  const res = await changingAccess(
    db.prepare('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? AND tenant_id = ?').bind(Date.now(), id, tenantId).run(),
  );
  return res.meta.changes > 0;
}

/**
 * Rotate: a new key with the same name, role, expiry and request limits; the old one stops working after
 * `graceHours` (0 = at once). Refused for revoked or already rotated keys.
 */
export async function rotateApiKey(
  db: D1Database,
  tenantId: string,
  id: string,
  graceHours: number,
): Promise<{ key: string; record: ApiKey; oldExpiresAt: number } | null> {
  const old = await getApiKey(db, tenantId, id);
  if (!old || old.revokedAt !== null || old.replacedBy !== null || (old.expiresAt !== null && old.expiresAt <= Date.now())) return null;
  const created = await createApiKey(db, { tenantId, name: old.name, role: old.role, expiresAt: old.expiresAt });
  const graceEnd = Date.now() + graceHours * 3_600_000;
  const oldExpiresAt = old.expiresAt === null ? graceEnd : Math.min(old.expiresAt, graceEnd);
  await changingAccess(
    db.prepare('UPDATE api_keys SET expires_at = ?, replaced_by = ? WHERE id = ? AND tenant_id = ?').bind(oldExpiresAt, created.record.id, id, tenantId).run(),
  );
  // The replacement keeps the old key's own request limits.
  const hasLimits = old.limits.perMinute !== null || old.limits.perHour !== null || old.limits.perDay !== null;
  const record = hasLimits ? ((await setApiKeyLimits(db, tenantId, created.record.id, old.limits)) ?? created.record) : created.record;
  return { ...created, record, oldExpiresAt };
}

/** Set or clear (null) a key's own request limits; null when the tenant has no such key. */
export async function setApiKeyLimits(db: D1Database, tenantId: string, id: string, patch: KeyLimitsPatch): Promise<ApiKey | null> {
  const current = await getApiKey(db, tenantId, id);
  if (!current) return null;
  const next: KeyLimits = {
    perMinute: patch.perMinute === undefined ? current.limits.perMinute : patch.perMinute,
    perHour: patch.perHour === undefined ? current.limits.perHour : patch.perHour,
    perDay: patch.perDay === undefined ? current.limits.perDay : patch.perDay,
  };
  await changingAccess(
    db
      .prepare('UPDATE api_keys SET limit_per_minute = ?, limit_per_hour = ?, limit_per_day = ? WHERE id = ? AND tenant_id = ?')
      .bind(next.perMinute, next.perHour, next.perDay, id, tenantId)
      .run(),
  );
  return { ...current, limits: next };
}
