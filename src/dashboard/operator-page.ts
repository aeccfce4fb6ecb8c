import { mayPatchTenant, patchTenantOp } from '../admin/admin-operations';
import { html } from '../http/html';
import { queryMetrics } from '../metrics/metrics-query';
import { countUsersAndKeys, listTenants } from '../tenancy/tenant-store';
import type { PageContext, TenantContext } from './dashboard';
import { auditDashboardChange } from './dashboard-audit';
import { redirect } from './dashboard-auth';
import { csrfField, dashboardPage, messagePage, tenantUrl, when } from './dashboard-layout';

/**
 * The operator view: every tenant with its status, enabled servers, users, live keys and the last
 * 24 hours of MCP traffic (from the metrics API), with suspend and resume. The operator can open
 * any tenant's pages from here.
 */

const USAGE_WINDOW_MINUTES = 24 * 60;

/** `GET /dashboard/operator`. */
export async function operatorPage(c: PageContext): Promise<Response> {
  const [tenants, counts, metrics] = await Promise.all([
    listTenants(c.env.DB),
    countUsersAndKeys(c.env.DB),
    queryMetrics(c.env, { windowMinutes: USAGE_WINDOW_MINUTES, bucketMinutes: 60 }),
  ]);
  const usage = new Map<string, { requests: number; errors: number; denials: number }>();
  for (const s of metrics.servers) {
    const u = usage.get(s.tenant) ?? { requests: 0, errors: 0, denials: 0 };
    u.requests += s.requests;
    u.errors += s.errors;
    u.denials += s.denials;
    usage.set(s.tenant, u);
  }
  const done = c.url.searchParams.get('done');
  const banner =
    done === 'suspended' || done === 'active' ? html`<p class="notice" role="status">Tenant ${done === 'active' ? 'resumed' : 'suspended'}.</p>` : '';
  const rows = tenants.map((t) => {
    const n = counts.get(t.id) ?? { users: 0, keys: 0 };
    const u = usage.get(t.id) ?? { requests: 0, errors: 0, denials: 0 };
    const next = t.status === 'active' ? 'suspended' : 'active';
    return html`<tr data-tenant="${t.id}">
  <td><a href="${tenantUrl(t.id, 'servers')}">${t.name}</a><br><code class="small">${t.id}</code></td>
  <td><span class="${t.status === 'active' ? 'badge ok' : 'badge bad'}">${t.status}</span></td>
  <td>${t.servers.length ? t.servers.join(', ') : '—'}</td><td class="num">${n.users}</td><td class="num">${n.keys}</td>
  <td class="num">${u.requests}</td><td class="num">${u.errors}</td><td class="num">${u.denials}</td><td>${when(t.createdAt)}</td>
  <td><form method="post" action="/dashboard/operator/tenants/${t.id}/status" class="inline">${csrfField(c.viewer)}
    <input type="hidden" name="status" value="${next}">
    <button type="submit" class="${next === 'suspended' ? 'danger' : ''}" aria-label="${next === 'suspended' ? 'Suspend' : 'Resume'} ${t.name}">${next === 'suspended' ? 'Suspend' : 'Resume'}</button></form>
    <a href="${tenantUrl(t.id, 'metrics')}">Metrics</a> · <a href="${tenantUrl(t.id, 'audit')}">Audit</a></td>
</tr>`;
  });
  const body = html`${banner}
<p>Every tenant on this platform. Usage is MCP traffic in the last 24 hours; active sessions platform-wide: <strong>${metrics.activeSessions}</strong>.</p>
<table><caption>Tenants</caption>
<thead><tr><th scope="col">Tenant</th><th scope="col">Status</th><th scope="col">Servers</th><th scope="col">Users</th><th scope="col">Live keys</th>
<th scope="col">Requests (24 h)</th><th scope="col">Errors</th><th scope="col">Denials</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
<tbody>${rows}</tbody></table>`;
  return dashboardPage({ viewer: c.viewer, active: 'operator', title: 'Operator: tenants', body });
}

/** `POST /dashboard/operator/tenants/<t>/status` with `status=active|suspended`. */
export async function setTenantStatus(c: TenantContext): Promise<Response> {
  const status = c.form?.get('status');
  if ((status !== 'active' && status !== 'suspended') || !mayPatchTenant(c.actor, { status })) {
    await auditDashboardChange(c, c.tenant.id, 'admin.tenant.update', c.tenant.id, 'error', { status: 400 });
    return messagePage(c.viewer, 400, 'Bad request', 'Choose suspend or resume.');
  }
  await patchTenantOp(c.env, c.actor, c.tenant, { status });
  await auditDashboardChange(c, c.tenant.id, 'admin.tenant.update', c.tenant.id, 'ok', { status });
  return redirect(`/dashboard/operator?done=${status}`);
}
