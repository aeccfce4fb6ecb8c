import { z } from 'zod';

/**
 * Per-tenant limits: what the operator may set on a tenant (admin API, CLI) and the platform
 * defaults that apply when a tenant has no value of its own. Enforced exactly by TenantLimiter.
 */
export interface TenantLimits {
  /** MCP requests per minute across every user, key and server of the tenant. */
  requestsPerMinute: number;
  /** Concurrent MCP sessions (Streamable HTTP and SSE) of the tenant. */
  maxSessions: number;
  /** Concurrent MCP sessions of one user or API key. */
  maxSessionsPerUser: number;
  /** Upstreams (remote MCP servers) the tenant may register: each one costs the platform health-check traffic. */
  maxUpstreams: number;
}

export const DEFAULT_TENANT_LIMITS: Readonly<TenantLimits> = { requestsPerMinute: 1000, maxSessions: 100, maxSessionsPerUser: 20, maxUpstreams: 20 };

/** Upper bound for every limit: keeps values sane and integer-safe. */
export const MAX_LIMIT_VALUE = 1_000_000;

const LimitValue = z.number().int().min(1).max(MAX_LIMIT_VALUE).nullable();

/** `limits` in `PATCH /admin/api/tenants/<id>`: a number sets a limit, null restores the default. */
export const LimitsPatchSchema = z
  .strictObject({ requestsPerMinute: LimitValue.optional(), maxSessions: LimitValue.optional(), maxSessionsPerUser: LimitValue.optional(), maxUpstreams: LimitValue.optional() })
  .refine((p) => Object.keys(p).length > 0, { message: 'no limit to change' });
export type LimitsPatch = z.infer<typeof LimitsPatchSchema>;

/** The columns of migrations/0003_limits.sql and 0007_upstream_limit.sql (NULL = default). */
export interface LimitColumns {
  requests_per_minute: number | null;
  max_sessions: number | null;
  max_sessions_per_user: number | null;
  max_upstreams: number | null;
}

/** Effective limits from the stored columns. */
export function limitsFromRow(row: Partial<LimitColumns>): TenantLimits {
  return {
    requestsPerMinute: row.requests_per_minute ?? DEFAULT_TENANT_LIMITS.requestsPerMinute,
    maxSessions: row.max_sessions ?? DEFAULT_TENANT_LIMITS.maxSessions,
    maxSessionsPerUser: row.max_sessions_per_user ?? DEFAULT_TENANT_LIMITS.maxSessionsPerUser,
    maxUpstreams: row.max_upstreams ?? DEFAULT_TENANT_LIMITS.maxUpstreams,
  };
}

/** The stored columns after applying `patch` to `current` (a limit equal to the default is stored as NULL). */
export function columnsAfter(current: TenantLimits, patch: LimitsPatch): LimitColumns {
  const pick = (key: keyof TenantLimits): number | null => {
    const value = patch[key] === undefined ? current[key] : patch[key];
    return value === null || value === DEFAULT_TENANT_LIMITS[key] ? null : value;
  };
  return { requests_per_minute: pick('requestsPerMinute'), max_sessions: pick('maxSessions'), max_sessions_per_user: pick('maxSessionsPerUser'), max_upstreams: pick('maxUpstreams') };
}
