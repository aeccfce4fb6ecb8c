import { z } from 'zod';
import { toCsv, toJsonLines } from '../audit/audit-export';
import { AuditFiltersSchema, queryAudit, type AuditQuery } from '../audit/audit-query';
import { responseCacheMetrics } from '../gateway/cache-metrics';
import { json, restError } from '../http/responses';
import { MetricsParamsSchema, queryMetrics } from '../metrics/metrics-query';
import type { Tenant } from '../tenancy/model';
import type { Actor } from './admin-auth';
import { readBody } from './request-body';

const FormatSchema = z.enum(['json', 'jsonl', 'csv']).default('json');
const RetentionBody = z.strictObject({ days: z.number().int().min(1).max(3650) });

function invalid(error: z.ZodError): Response {
  const first = error.issues[0];
  const where = first?.path.length ? `${first.path.join('.')}: ` : '';
  return restError(400, 'invalid_request', `${where}${first?.message ?? 'invalid query'}`);
}

function params(request: Request): Record<string, string> {
  return Object.fromEntries(new URL(request.url).searchParams);
}

/**
 * `GET .../audit?from&to&action&server&user&result&limit&cursor&format=json|jsonl|csv`.
 * JSON pages carry `nextCursor`; exports carry it in the `X-Next-Cursor` header.
 */
async function auditRoute(request: Request, env: Env, scope: Pick<AuditQuery, 'tenant' | 'since'>): Promise<Response> {
  const { format: rawFormat, ...filters } = params(request);
  delete filters.tenant; // the scope comes from the path (or the operator's explicit choice), never from here
  const parsed = AuditFiltersSchema.safeParse(filters);
  if (!parsed.success) return invalid(parsed.error);
  const format = FormatSchema.safeParse(rawFormat);
  if (!format.success) return invalid(format.error);
  const page = await queryAudit(env, { ...parsed.data, ...scope });
  if (format.data === 'json') return json(page);
  const headers = new Headers({ 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  if (page.nextCursor) headers.set('X-Next-Cursor', page.nextCursor);
  const csv = format.data === 'csv';
  headers.set('Content-Type', csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
  headers.set('Content-Disposition', `attachment; filename="audit.${csv ? 'csv' : 'jsonl'}"`);
  return new Response(csv ? toCsv(page.events) : toJsonLines(page.events), { headers });
}

async function metricsRoute(request: Request, env: Env, tenant: Tenant | undefined): Promise<Response> {
  const parsed = MetricsParamsSchema.safeParse(params(request));
  if (!parsed.success) return invalid(parsed.error);
  return json(await queryMetrics(env, { tenant: tenant?.id, since: tenant?.createdAt, windowMinutes: parsed.data.window, bucketMinutes: parsed.data.bucket }));
}

/**
 * `GET /admin/api/tenants/<t>/audit`: the tenant's own store only, from its creation on (a tenant
 * re-created with a deleted one's id does not see the old one's events).
 */
export const tenantAuditRoute = (request: Request, env: Env, tenant: Tenant) => auditRoute(request, env, { tenant: tenant.id, since: tenant.createdAt });

/**
 * `GET /admin/api/tenants/<t>/metrics?window&bucket`, with each upstream's response-cache counters
 * (`responseCache: { <upstream>: { hits, misses, evictions, … } }`, counted since registration).
 */
export async function tenantMetricsRoute(request: Request, env: Env, tenant: Tenant): Promise<Response> {
  const res = await metricsRoute(request, env, tenant);
  if (!res.ok) return res;
  return json({ ...((await res.json()) as Record<string, unknown>), responseCache: await responseCacheMetrics(env, tenant.id) });
}

/**
 * `GET /admin/api/audit` (operator): every tenant, or `?tenant=<id>`, or `?tenant=_platform` for
 * events whose caller was not identified.
 */
export function platformAuditRoute(request: Request, env: Env, actor: Actor): Promise<Response> | Response {
  if (actor.kind !== 'operator') return restError(403, 'forbidden', 'Only the platform operator may do this');
  const tenant = new URL(request.url).searchParams.get('tenant');
  return auditRoute(request, env, tenant === null ? {} : { tenant: tenant === '_platform' ? null : tenant });
}

/** `GET /admin/api/metrics` (operator): every tenant's servers. */
export function platformMetricsRoute(request: Request, env: Env, actor: Actor): Promise<Response> | Response {
  if (actor.kind !== 'operator') return restError(403, 'forbidden', 'Only the platform operator may do this');
  return metricsRoute(request, env, undefined);
}

/** `GET /admin/api/tenants/<t>/audit/retention`. */
export async function getRetentionRoute(env: Env, tenant: Tenant): Promise<Response> {
  const row = await env.DB.prepare('SELECT audit_retention_days AS days FROM tenants WHERE id = ?').bind(tenant.id).first<{ days: number }>();
  return json({ days: row?.days ?? null });
}

/** `PUT /admin/api/tenants/<t>/audit/retention` `{ "days": 1..3650 }`: tenant admins may choose their own. */
export async function putRetentionRoute(request: Request, env: Env, tenant: Tenant): Promise<Response> {
  const body = await readBody(request, RetentionBody);
  if (body instanceof Response) return body;
  await env.DB.prepare('UPDATE tenants SET audit_retention_days = ? WHERE id = ?').bind(body.days, tenant.id).run();
  return json({ days: body.days });
}
