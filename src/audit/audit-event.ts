import { z } from 'zod';

/**
 * The audit vocabulary: one event per MCP request, denial, rate limit, sign-in, consent, token and
 * admin change. Shared by every producer (gate, hosted servers, auth, admin API, gateway) so the
 * trail has one schema whatever wrote it.
 */

export const AUDIT_RESULTS = ['ok', 'error', 'denied', 'rate_limited'] as const;
export type AuditResult = (typeof AUDIT_RESULTS)[number];
export const AuditResultSchema = z.enum(AUDIT_RESULTS);

/** What a producer knows about an event; id and time are added when it is recorded. */
export interface AuditEventInput {
  /** Tenant the event belongs to; null when the caller is not identified (bad token, unknown account). */
  tenant: string | null;
  /** `tools/call`, `initialize`, `auth.sign_in`, `admin.key.create`, `limit.tenant_rpm`, ... */
  action: string;
  result: AuditResult;
  /** User id, or `key:<id>` for an API key, or the email tried at a failed sign-in. */
  user?: string;
  /** OAuth client id or API key id. */
  client?: string;
  session?: string;
  server?: string;
  /** Tool name, resource URI, prompt name, admin object id. */
  resource?: string;
  latencyMs?: number;
  correlationId?: string;
  ip?: string;
  /** Free-form context; secrets are redacted before storage (see redact.ts). */
  details?: Record<string, unknown>;
}

/** A recorded event as stored and returned by the query API. */
export interface AuditEvent {
  id: string;
  time: number;
  tenant: string | null;
  action: string;
  result: AuditResult;
  user: string | null;
  client: string | null;
  session: string | null;
  server: string | null;
  resource: string | null;
  latencyMs: number | null;
  correlationId: string | null;
  ip: string | null;
  details: Record<string, unknown> | null;
}

/**
 * An event as a SQL row: the column names of the shards' `events` table (audit-shard.ts) and of the
 * legacy D1 table `audit_events` (legacy-d1.ts, migrations/0004_audit.sql), which are the same.
 * `details` is JSON text.
 */
export type AuditEventRow = Omit<AuditEvent, 'latencyMs' | 'correlationId' | 'details'> & {
  latency_ms: number | null;
  correlation_id: string | null;
  details: string | null;
};

/**
 * Each column of the tables that store events, with the AuditEvent field it holds: the one place
 * that decides the mapping (the column list and the SQL that reads a JSON batch both come from it).
 */
const EVENT_FIELDS = [
  ['id', 'id'],
  ['time', 'time'],
  ['tenant', 'tenant'],
  ['action', 'action'],
  ['result', 'result'],
  ['user', 'user'],
  ['client', 'client'],
  ['session', 'session'],
  ['server', 'server'],
  ['resource', 'resource'],
  ['latency_ms', 'latencyMs'],
  ['correlation_id', 'correlationId'],
  ['ip', 'ip'],
  ['details', 'details'],
] as const satisfies ReadonlyArray<readonly [keyof AuditEventRow, keyof AuditEvent]>;

/** The columns every table that stores events has, in the order EVENT_JSON_VALUES reads them. */
export const EVENT_COLUMNS = EVENT_FIELDS.map(([column]) => column).join(', ');

/**
 * The SQL that reads each column of EVENT_COLUMNS, in order, from one event of a JSON array of
 * AuditEvent (`value` of `json_each`): the inverse of `eventFromRow`, for a whole batch in one
 * statement instead of one per event (docs/performance.md: each statement is also a traced storage
 * operation). `details` is kept only when it is an object, as JSON text.
 */
export const EVENT_JSON_VALUES = EVENT_FIELDS.map(([, field]) =>
  field === 'details' ? "CASE WHEN json_type(value, '$.details') = 'object' THEN value->'details' END" : `value->>'${field}'`,
).join(', ');

/** The event a stored row holds (one mapping for every table that stores events). */
export function eventFromRow(r: AuditEventRow): AuditEvent {
  return {
    id: r.id,
    time: r.time,
    tenant: r.tenant ?? null,
    action: r.action,
    result: r.result,
    user: r.user,
    client: r.client,
    session: r.session,
    server: r.server,
    resource: r.resource,
    latencyMs: r.latency_ms,
    correlationId: r.correlation_id,
    ip: r.ip,
    details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null,
  };
}
