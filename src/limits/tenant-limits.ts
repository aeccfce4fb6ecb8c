import { z } from 'zod';

/**
 * Per-tenant limits: what the operator may set on a tenant (admin API, CLI) and the platform
 * defaults that apply when a tenant has no value of its own; plus the per-key overrides of the
 * per-credential rate. Enforced exactly by TenantLimiter. One table below maps each limit to its
 * D1 column and default, so the queries, the patch schema and the defaults cannot drift apart.
 */
export interface TenantLimits {
  /** MCP requests per minute across every user, key and server of the tenant. */
  requestsPerMinute: number;
  /** Concurrent MCP sessions (Streamable HTTP and SSE) of the tenant. */
  maxSessions: number;
  /** Concurrent MCP sessions of one user or API key. */
  maxSessionsPerUser: number;
  /** MCP requests of one API key or one signed-in user per minute, hour and UTC day (keys may override). */
  credentialPerMinute: number;
  credentialPerHour: number;
  credentialPerDay: number;
  /** Upstreams (remote MCP servers) the tenant may register: each one costs the platform health-check traffic. */
  maxUpstreams: number;
}

export const DEFAULT_TENANT_LIMITS: Readonly<TenantLimits> = {
  requestsPerMinute: 1000,
  maxSessions: 100,
  maxSessionsPerUser: 20,
  credentialPerMinute: 600,
  credentialPerHour: 20_000,
  credentialPerDay: 200_000,
  maxUpstreams: 20,
};

/** Each limit's column in `tenants` (migrations/0003_limits.sql, 0007_upstream_limit.sql, 0008_credential_limits.sql); NULL = default. */
const COLUMNS = {
  requestsPerMinute: 'requests_per_minute',
  maxSessions: 'max_sessions',
  maxSessionsPerUser: 'max_sessions_per_user',
  credentialPerMinute: 'credential_per_minute',
  credentialPerHour: 'credential_per_hour',
  credentialPerDay: 'credential_per_day',
  maxUpstreams: 'max_upstreams',
} as const satisfies Record<keyof TenantLimits, string>;
const LIMIT_KEYS = Object.keys(COLUMNS) as Array<keyof TenantLimits>;

/** The limit columns for a SELECT over `tenants` aliased `alias` (`t.requests_per_minute, …`). */
export function limitColumnsSql(alias: string): string {
  return LIMIT_KEYS.map((k) => `${alias}.${COLUMNS[k]}`).join(', ');
}

/** `SET requests_per_minute = ?, …` for an UPDATE of `tenants`, in the order of `columnValues`. */
export const LIMIT_SET_SQL = LIMIT_KEYS.map((k) => `${COLUMNS[k]} = ?`).join(', ');

/** Upper bound for every limit: keeps values sane and integer-safe. */
export const MAX_LIMIT_VALUE = 1_000_000_000;

const LimitValue = z.number().int().min(1).max(MAX_LIMIT_VALUE).nullable();

/** `limits` in `PATCH /admin/api/tenants/<id>`: a number sets a limit, null restores the default. */
export const LimitsPatchSchema = z
  .strictObject(Object.fromEntries(LIMIT_KEYS.map((k) => [k, LimitValue.optional()])) as Record<keyof TenantLimits, z.ZodOptional<typeof LimitValue>>)
  .refine((p) => Object.keys(p).length > 0, { message: 'no limit to change' });
export type LimitsPatch = Partial<Record<keyof TenantLimits, number | null>>;

/** The stored columns of a tenant's limits (NULL = default). */
export type LimitColumns = Partial<Record<(typeof COLUMNS)[keyof TenantLimits], number | null>>;

/** A key's own per-credential limits (`api_keys.limit_per_*`, NULL = its tenant's default). */
export interface KeyLimits {
  perMinute: number | null;
  perHour: number | null;
  perDay: number | null;
}

/** `limits` in `PATCH /admin/api/tenants/<t>/keys/<id>`: a number overrides, null returns to the tenant default. */
export const KeyLimitsPatchSchema = z
  .strictObject({ perMinute: LimitValue.optional(), perHour: LimitValue.optional(), perDay: LimitValue.optional() })
  .refine((p) => Object.keys(p).length > 0, { message: 'no limit to change' });
export type KeyLimitsPatch = z.infer<typeof KeyLimitsPatchSchema>;

/** The key columns as read from `api_keys`. */
export interface KeyLimitColumns {
  limit_per_minute?: number | null;
  limit_per_hour?: number | null;
  limit_per_day?: number | null;
}

export function keyLimitsFromRow(row: KeyLimitColumns): KeyLimits {
  return { perMinute: row.limit_per_minute ?? null, perHour: row.limit_per_hour ?? null, perDay: row.limit_per_day ?? null };
}

/**
 * Effective limits from the stored columns; with `key`, the per-credential limits are the key's
 * own where it has them (the limits that apply to a request made with that key).
 */
export function limitsFromRow(row: LimitColumns, key?: KeyLimits): TenantLimits {
  const limits = Object.fromEntries(LIMIT_KEYS.map((k) => [k, row[COLUMNS[k]] ?? DEFAULT_TENANT_LIMITS[k]])) as unknown as TenantLimits;
  if (key) {
    limits.credentialPerMinute = key.perMinute ?? limits.credentialPerMinute;
    limits.credentialPerHour = key.perHour ?? limits.credentialPerHour;
    limits.credentialPerDay = key.perDay ?? limits.credentialPerDay;
  }
  return limits;
}

/** The stored columns after applying `patch` to `current` (a limit equal to the default is stored as NULL). */
export function columnsAfter(current: TenantLimits, patch: LimitsPatch): LimitColumns {
  const out: LimitColumns = {};
  for (const k of LIMIT_KEYS) {
    const value = patch[k] === undefined ? current[k] : patch[k];
    out[COLUMNS[k]] = value === null || value === DEFAULT_TENANT_LIMITS[k] ? null : value;
  }
  return out;
}

/** The values for `LIMIT_SET_SQL`, in its order. */
export function columnValues(columns: LimitColumns): Array<number | null> {
  return LIMIT_KEYS.map((k) => columns[COLUMNS[k]] ?? null);
}
