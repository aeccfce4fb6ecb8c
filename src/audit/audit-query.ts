import { z } from 'zod';
import { AuditResultSchema, type AuditEvent, type AuditResult } from './audit-event';

/** Filters of the audit query API. `tenant` undefined = every tenant (operator only); null = platform-level events. */
export interface AuditQuery {
  tenant?: string | null;
  from?: number;
  to?: number;
  action?: string;
  server?: string;
  user?: string;
  result?: AuditResult;
  limit?: number;
  cursor?: string;
}

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 5000;

/** Query-string filters, validated: bad input is a 400, never a partial or surprising answer. */
export const AuditFiltersSchema = z.object({
  from: z.coerce.number().int().nonnegative().optional(),
  to: z.coerce.number().int().nonnegative().optional(),
  action: z.string().min(1).max(100).optional(),
  server: z.string().min(1).max(64).optional(),
  user: z.string().min(1).max(254).optional(),
  result: AuditResultSchema.optional(),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).optional(),
  cursor: z.string().regex(/^[0-9]+:[0-9a-f-]{36}$/, 'cursor is malformed').optional(),
});

interface Row {
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
  latency_ms: number | null;
  correlation_id: string | null;
  ip: string | null;
  details: string | null;
}

function toEvent(r: Row): AuditEvent {
  return {
    id: r.id, time: r.time, tenant: r.tenant, action: r.action, result: r.result, user: r.user, client: r.client,
    session: r.session, server: r.server, resource: r.resource, latencyMs: r.latency_ms, correlationId: r.correlation_id,
    ip: r.ip, details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null,
  };
}

/**
 * One page of events, newest first. The cursor is `<time>:<id>` of the last event returned, so
 * pages stay stable while new events arrive (they sort before the cursor).
 */
export async function queryAudit(db: D1Database, q: AuditQuery): Promise<{ events: AuditEvent[]; nextCursor: string | null }> {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (clause: string, ...values: unknown[]) => {
    where.push(clause);
    args.push(...values);
  };
  if (q.tenant === null) add('tenant IS NULL');
  else if (q.tenant !== undefined) add('tenant = ?', q.tenant);
  if (q.from !== undefined) add('time >= ?', q.from);
  if (q.to !== undefined) add('time < ?', q.to);
  if (q.action) add('action = ?', q.action);
  if (q.server) add('server = ?', q.server);
  if (q.user) add('user = ?', q.user);
  if (q.result) add('result = ?', q.result);
  if (q.cursor) {
    const [time, id] = q.cursor.split(':');
    add('(time < ? OR (time = ? AND id < ?))', Number(time), Number(time), id);
  }
  const limit = Math.min(q.limit ?? DEFAULT_PAGE, MAX_PAGE);
  const sql = `SELECT * FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, id DESC LIMIT ?`;
  const { results } = await db.prepare(sql).bind(...args, limit + 1).all<Row>();
  const events = results.slice(0, limit).map(toEvent);
  const last = events[events.length - 1];
  return { events, nextCursor: results.length > limit && last ? `${last.time}:${last.id}` : null };
}
