import { ARCHIVE_PREFIX, archiveKey } from '../audit/audit-archive';
import { migrateLegacyAudit } from '../audit/legacy-d1';
import { dayOf, isDay, PLATFORM_SCOPE } from '../audit/store-names';
import { json, restError } from '../http/responses';
import { TENANT_ID_PATTERN, type Tenant } from '../tenancy/model';
import type { Actor } from './admin-auth';

/** A scope's files in R2, oldest first, from `since` (a time) on. */
async function listArchive(env: Env, scope: string, since: number): Promise<Response> {
  const prefix = `${ARCHIVE_PREFIX}${scope}/`;
  const first = dayOf(since);
  const exports: Array<{ date: string; size: number; uploaded: string }> = [];
  let cursor: string | undefined;
  do {
    const page = await env.FILES.list({ prefix, cursor });
    for (const o of page.objects) {
      const date = o.key.slice(prefix.length).replace(/\.jsonl$/, '');
      if (isDay(date) && date >= first) exports.push({ date, size: o.size, uploaded: o.uploaded.toISOString() });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return json({ exports });
}

/** One day's file, streamed; on the day that holds `since`, the lines before it are left out. */
async function serveArchive(env: Env, scope: string, date: string, since: number): Promise<Response> {
  if (!isDay(date)) return restError(400, 'invalid_request', 'date must be a calendar day, yyyy-mm-dd');
  const first = dayOf(since);
  const object = date >= first ? await env.FILES.get(archiveKey(scope, date)) : null;
  if (!object) return restError(404, 'not_found', 'No export for that day');
  const headers = new Headers({
    'Content-Type': 'application/x-ndjson; charset=utf-8',
    'Content-Disposition': `attachment; filename="audit-${scope}-${date}.jsonl"`,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  if (date !== first || since === 0) return new Response(object.body, { headers });
  const lines = (await object.text()).split('\n').filter((l) => l && (JSON.parse(l) as { time: number }).time >= since);
  return new Response(lines.map((l) => `${l}\n`).join(''), { headers });
}

/**
 * `GET /admin/api/tenants/<t>/audit/exports`: the tenant's daily JSON Lines files in R2, oldest
 * first. Only days since the tenant's creation: a tenant re-created with a deleted one's id never
 * lists the old one's files (the operator still reads them, below).
 */
export const listExportsRoute = (env: Env, tenant: Tenant) => listArchive(env, tenant.id, tenant.createdAt);

/**
 * `GET /admin/api/tenants/<t>/audit/exports/<yyyy-mm-dd>`: one day's file. On the day the tenant
 * was created, lines from before its creation are left out.
 */
export const getExportRoute = (env: Env, tenant: Tenant, date: string) => serveArchive(env, tenant.id, date, tenant.createdAt);

/**
 * `GET /admin/api/audit/exports?tenant=<id>|_platform` and `.../exports/<yyyy-mm-dd>?tenant=…`
 * (operator): any scope's files with no creation floor, so platform-level events and a deleted
 * tenant's (or an earlier incarnation's) trail stay readable for the operator.
 */
export function platformExportsRoute(request: Request, env: Env, actor: Actor, date?: string): Promise<Response> | Response {
  if (actor.kind !== 'operator') return restError(403, 'forbidden', 'Only the platform operator may do this');
  const scope = new URL(request.url).searchParams.get('tenant') ?? '';
  if (scope !== PLATFORM_SCOPE && !TENANT_ID_PATTERN.test(scope)) return restError(400, 'invalid_request', 'tenant: a tenant id or _platform is required');
  return date === undefined ? listArchive(env, scope, 0) : serveArchive(env, scope, date, 0);
}

/**
 * `POST /admin/api/audit/migrate` (operator): move up to 50,000 events of the legacy D1 table into
 * the per-tenant stores; call again while `remaining` is above zero. Idempotent.
 */
export async function migrateAuditRoute(env: Env, actor: Actor): Promise<Response> {
  if (actor.kind !== 'operator') return restError(403, 'forbidden', 'Only the platform operator may do this');
  return json(await migrateLegacyAudit(env, 50_000));
}
