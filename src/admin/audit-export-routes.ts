import { ARCHIVE_PREFIX, archiveKey } from '../audit/audit-archive';
import { migrateLegacyAudit } from '../audit/legacy-d1';
import { dayOf } from '../audit/store-names';
import { json, restError } from '../http/responses';
import type { Tenant } from '../tenancy/model';
import type { Actor } from './admin-auth';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * `GET /admin/api/tenants/<t>/audit/exports`: the tenant's daily JSON Lines files in R2, oldest
 * first. Only days since the tenant's creation: a tenant re-created with a deleted one's id never
 * lists the old one's files (the operator keeps them in R2).
 */
export async function listExportsRoute(env: Env, tenant: Tenant): Promise<Response> {
  const prefix = `${ARCHIVE_PREFIX}${tenant.id}/`;
  const first = dayOf(tenant.createdAt);
  const exports: Array<{ date: string; size: number; uploaded: string }> = [];
  let cursor: string | undefined;
  do {
    const page = await env.FILES.list({ prefix, cursor });
    for (const o of page.objects) {
      const date = o.key.slice(prefix.length).replace(/\.jsonl$/, '');
      if (DATE.test(date) && date >= first) exports.push({ date, size: o.size, uploaded: o.uploaded.toISOString() });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return json({ exports });
}

/**
 * `GET /admin/api/tenants/<t>/audit/exports/<yyyy-mm-dd>`: one day's file, streamed. On the day
 * the tenant was created, lines from before its creation are left out.
 */
export async function getExportRoute(env: Env, tenant: Tenant, date: string): Promise<Response> {
  if (!DATE.test(date)) return restError(400, 'invalid_request', 'date must be yyyy-mm-dd');
  const first = dayOf(tenant.createdAt);
  const object = date >= first ? await env.FILES.get(archiveKey(tenant.id, date)) : null;
  if (!object) return restError(404, 'not_found', 'No export for that day');
  const headers = new Headers({
    'Content-Type': 'application/x-ndjson; charset=utf-8',
    'Content-Disposition': `attachment; filename="audit-${tenant.id}-${date}.jsonl"`,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  if (date !== first) return new Response(object.body, { headers });
  const lines = (await object.text()).split('\n').filter((l) => l && (JSON.parse(l) as { time: number }).time >= tenant.createdAt);
  return new Response(lines.map((l) => `${l}\n`).join(''), { headers });
}

/**
 * `POST /admin/api/audit/migrate` (operator): move up to 50,000 events of the legacy D1 table into
 * the per-tenant stores; call again while `remaining` is above zero. Idempotent.
 */
export async function migrateAuditRoute(env: Env, actor: Actor): Promise<Response> {
  if (actor.kind !== 'operator') return restError(403, 'forbidden', 'Only the platform operator may do this');
  return json(await migrateLegacyAudit(env, 50_000));
}
