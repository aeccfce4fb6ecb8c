import { AUDIT_RESULTS, type AuditEvent } from '../audit/audit-event';
import { toCsv, toJsonLines } from '../audit/audit-export';
import { AuditFiltersSchema, queryAudit, type AuditQuery } from '../audit/audit-query';
import { html, type SafeHtml } from '../http/html';
import type { TenantContext } from './dashboard';
import { dashboardPage, messagePage, tenantUrl, when } from './dashboard-layout';

/**
 * The audit log viewer: filters (time range, action, server, user, result), pages of 50 newest
 * first with the query API's cursor, CSV / JSON Lines export of the filtered view, and a detail
 * view of one event. Only the tenant's own events: the tenant comes from the path, never the query.
 */

const PAGE = 50;
const EXPORT_LIMIT = 5000;
const FILTERS = ['from', 'to', 'action', 'server', 'user', 'result'] as const;

/** `2026-11-21T10:00` (a datetime-local value, read as UTC) → ms; '' and garbage → undefined. */
function fromLocal(value: string | null): number | undefined {
  if (!value || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return undefined;
  const ms = Date.parse(`${value}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The page's filters as the query API expects them, or an error message. */
function filtersOf(url: URL, tenant: { id: string; createdAt: number }, limit: number): { query: AuditQuery; raw: Record<string, string> } | { error: string } {
  const raw: Record<string, string> = {};
  for (const name of FILTERS) {
    const v = url.searchParams.get(name)?.trim();
    if (v) raw[name] = v;
  }
  const parsed = AuditFiltersSchema.safeParse({
    from: fromLocal(raw.from ?? null),
    to: fromLocal(raw.to ?? null),
    action: raw.action,
    server: raw.server,
    user: raw.user,
    result: raw.result,
    limit,
    cursor: url.searchParams.get('cursor') || undefined,
  });
  if (!parsed.success) return { error: `${parsed.error.issues[0]?.path.join('.') || 'filter'}: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  return { query: { ...parsed.data, tenant: tenant.id, since: tenant.createdAt }, raw };
}

function queryString(raw: Record<string, string>, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({ ...raw, ...extra }).toString();
  return q ? `?${q}` : '';
}

function filterForm(c: TenantContext, raw: Record<string, string>): SafeHtml {
  const input = (name: string, label: string, type = 'text', placeholder = '') =>
    html`<div><label for="f-${name}">${label}</label><input id="f-${name}" name="${name}" type="${type}" value="${raw[name] ?? ''}" placeholder="${placeholder}"></div>`;
  return html`<form method="get" action="${tenantUrl(c.tenant.id, 'audit')}" class="row filters" role="search" aria-label="Filter events">
  ${input('from', 'From (UTC)', 'datetime-local')}${input('to', 'To (UTC)', 'datetime-local')}
  ${input('action', 'Action', 'text', 'tools/call')}${input('server', 'Server', 'text', 'notes')}${input('user', 'User', 'text', 'usr_… or key:…')}
  <div><label for="f-result">Result</label><select id="f-result" name="result"><option value="">any</option>${AUDIT_RESULTS.map((r) => html`<option value="${r}"${raw.result === r ? html` selected` : ''}>${r}</option>`)}</select></div>
  <div><button type="submit">Apply filters</button> <a href="${tenantUrl(c.tenant.id, 'audit')}">Clear</a></div>
</form>`;
}

function eventRow(c: TenantContext, e: AuditEvent): SafeHtml {
  const detail = tenantUrl(c.tenant.id, 'audit', `/${e.id}?at=${e.time}`);
  return html`<tr>
  <td><a href="${detail}">${when(e.time)}</a></td><td><code>${e.action}</code></td><td><span class="badge ${e.result === 'ok' ? 'ok' : e.result === 'error' ? 'bad' : 'warn'}">${e.result}</span></td>
  <td>${e.user ?? '—'}</td><td>${e.server ?? '—'}</td><td>${e.resource ?? '—'}</td><td class="num">${e.latencyMs ?? '—'}</td>
</tr>`;
}

/** `GET /dashboard/t/<t>/audit`. */
export async function auditPage(c: TenantContext): Promise<Response> {
  const filters = filtersOf(c.url, c.tenant, PAGE);
  if ('error' in filters) {
    return dashboardPage({
      viewer: c.viewer,
      tenant: c.tenant,
      active: 'audit',
      title: 'Audit log',
      status: 400,
      body: html`${filterForm(c, {})}<p class="error" role="alert">${filters.error}</p>`,
    });
  }
  const { events, nextCursor } = await queryAudit(c.env, filters.query);
  const base = tenantUrl(c.tenant.id, 'audit');
  const exportLinks = html`<p class="exports">Export these filters (up to ${EXPORT_LIMIT} events):
  <a href="${base}/export${queryString(filters.raw, { format: 'csv' })}" download>CSV</a> ·
  <a href="${base}/export${queryString(filters.raw, { format: 'jsonl' })}" download>JSON Lines</a>.
  Scripts can use <code>GET /admin/api/tenants/${c.tenant.id}/audit?format=csv</code> with an admin API key.</p>`;
  const table = events.length
    ? html`<table><caption>Events, newest first${c.url.searchParams.get('cursor') ? ' (continued)' : ''}</caption>
<thead><tr><th scope="col">Time</th><th scope="col">Action</th><th scope="col">Result</th><th scope="col">User</th><th scope="col">Server</th><th scope="col">Resource</th><th scope="col">Latency (ms)</th></tr></thead>
<tbody>${events.map((e) => eventRow(c, e))}</tbody></table>`
    : html`<p>No events match.</p>`;
  const pager = html`<nav class="pager" aria-label="Pages">${c.url.searchParams.get('cursor') ? html`<a href="${base}${queryString(filters.raw)}">First page</a>` : ''}
  ${nextCursor ? html`<a href="${base}${queryString(filters.raw, { cursor: nextCursor })}" rel="next">Next page</a>` : ''}</nav>`;
  return dashboardPage({
    viewer: c.viewer,
    tenant: c.tenant,
    active: 'audit',
    title: 'Audit log',
    body: html`${filterForm(c, filters.raw)}${exportLinks}${table}${pager}`,
  });
}

/** `GET /dashboard/t/<t>/audit/export?format=csv|jsonl&<filters>`: the same export as the REST API. */
export async function auditExport(c: TenantContext): Promise<Response> {
  const format = c.url.searchParams.get('format') === 'jsonl' ? 'jsonl' : 'csv';
  const filters = filtersOf(c.url, c.tenant, EXPORT_LIMIT);
  if ('error' in filters) return messagePage(c.viewer, 400, 'Bad filter', filters.error);
  const { events, nextCursor } = await queryAudit(c.env, filters.query);
  const headers = new Headers({
    'Content-Type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    'Content-Disposition': `attachment; filename="audit-${c.tenant.id}.${format}"`,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  if (nextCursor) headers.set('X-Next-Cursor', nextCursor);
  return new Response(format === 'csv' ? toCsv(events) : toJsonLines(events), { headers });
}

/** `GET /dashboard/t/<t>/audit/<id>?at=<time>`: one event of this tenant, every field. */
export async function auditEventPage(c: TenantContext): Promise<Response> {
  const at = Number(c.url.searchParams.get('at'));
  const missing = () => messagePage(c.viewer, 404, 'Not found', 'This organization has no such audit event.');
  if (!Number.isSafeInteger(at) || at < 0) return missing();
  const { events } = await queryAudit(c.env, { tenant: c.tenant.id, since: c.tenant.createdAt, from: at, to: at + 1, limit: EXPORT_LIMIT });
  const e = events.find((x) => x.id === c.id);
  if (!e) return missing();
  const field = (label: string, value: unknown) =>
    html`<dt>${label}</dt><dd>${value === null || value === undefined || value === '' ? '—' : String(value)}</dd>`;
  const body = html`<p><a href="${tenantUrl(c.tenant.id, 'audit')}">← Back to the audit log</a></p>
<dl class="fields">
  ${field('Event id', e.id)}${field('Time', `${new Date(e.time).toISOString()}`)}${field('Action', e.action)}${field('Result', e.result)}
  ${field('User', e.user)}${field('Client or key', e.client)}${field('Session', e.session)}${field('Server', e.server)}
  ${field('Resource', e.resource)}${field('Latency (ms)', e.latencyMs)}${field('Correlation id', e.correlationId)}${field('IP', e.ip)}
</dl>
<h2>Details</h2>
<pre><code>${e.details ? JSON.stringify(e.details, null, 2) : '—'}</code></pre>`;
  return dashboardPage({ viewer: c.viewer, tenant: c.tenant, active: 'audit', title: `Audit event: ${e.action}`, body });
}
