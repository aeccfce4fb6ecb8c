import { html, type SafeHtml } from '../http/html';
import { limiter, tenantLimiterName } from '../limits/limits';
import type { SessionInfo } from '../limits/session-registry';
import { endSession } from '../limits/session-slots';
import { listApiKeys } from '../tenancy/api-keys';
import { listUsers } from '../tenancy/tenant-store';
import type { TenantContext } from './dashboard';
import { auditDashboardChange } from './dashboard-audit';
import { redirect } from './dashboard-auth';
import { csrfField, dashboardPage, messagePage, tenantUrl, when } from './dashboard-layout';

/**
 * Open MCP sessions, from the tenant's session registry (src/limits/session-registry.ts): every
 * signed-in user sees and can end their own (sessions opened with their OAuth grants); tenant
 * admins and the operator see and can end every session of the tenant, API keys' included. A
 * session is named by an opaque handle, never by the id a client presents. Ending one releases
 * its slot and tears its object down like a DELETE, audited as `session.ended`.
 */

/** Whose sessions this viewer may see: undefined = the whole tenant. */
function scope(c: TenantContext): string | undefined {
  return c.viewer.kind === 'operator' || c.viewer.role === 'admin' ? undefined : c.viewer.userId;
}

async function ownerNames(c: TenantContext, sessions: SessionInfo[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  if (scope(c) !== undefined || sessions.length === 0) return names;
  for (const u of await listUsers(c.env.DB, c.tenant.id)) names.set(u.id, u.email);
  for (const k of await listApiKeys(c.env.DB, c.tenant.id)) names.set(`key:${k.id}`, `key "${k.name}" (${k.id})`);
  return names;
}

function row(c: TenantContext, s: SessionInfo, names: Map<string, string>): SafeHtml {
  const who = scope(c) === undefined ? html`<td>${names.get(s.user) ?? s.user}</td>` : '';
  return html`<tr data-session="${s.handle}">
    ${who}
    <td>${s.server}</td>
    <td>${when(s.created)}</td>
    <td>${when(s.lastSeen)}</td>
    <td class="actions">
      <form method="post" action="${tenantUrl(c.tenant.id, 'sessions', `/${s.handle}/end`)}" class="inline">
        ${csrfField(c.viewer)}<button type="submit" class="danger" aria-label="End session on ${s.server} last used ${when(s.lastSeen)}">End</button>
      </form>
    </td>
  </tr>`;
}

/** `GET /dashboard/t/<t>/sessions`. */
export async function sessionsPage(c: TenantContext): Promise<Response> {
  const sessions = await limiter(c.env, tenantLimiterName(c.tenant.id)).listSessions(scope(c));
  const names = await ownerNames(c, sessions);
  const whole = scope(c) === undefined;
  const banner =
    c.url.searchParams.get('done') === 'ended' ? html`<p class="notice" role="status">Session ended. Its client must initialize a new one.</p>` : '';
  const intro = html`<p>
    ${whole ? 'Open MCP sessions of every user and API key of this organization' : 'Your open MCP sessions'}, most recently used first. Idle sessions end on
    their own; at the per-user quota the least recently used one ends to make room.
  </p>`;
  const table = sessions.length
    ? html`<table>
        <caption>
          ${whole ? 'Sessions' : 'Your sessions'}
        </caption>
        <thead>
          <tr>
            ${whole ? html`<th scope="col">User or key</th>` : ''}
            <th scope="col">Server</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          ${sessions.map((s) => row(c, s, names))}
        </tbody>
      </table>`
    : html`<p>No open sessions.</p>`;
  return dashboardPage({ viewer: c.viewer, tenant: c.tenant, active: 'sessions', title: 'Sessions', body: html`${banner}${intro}${table}` });
}

/** `POST /dashboard/t/<t>/sessions/<handle>/end`: only a session this viewer may see. */
export async function endSessionFromDashboard(c: TenantContext): Promise<Response> {
  const target = await limiter(c.env, tenantLimiterName(c.tenant.id)).takeSession(c.id, scope(c));
  if (!target) {
    await auditDashboardChange(c, c.tenant.id, 'session.ended', c.id, 'denied', { status: 404 });
    return messagePage(c.viewer, 404, 'Not found', 'There is no such open session (it may have ended already).');
  }
  const by = c.viewer.kind === 'operator' ? 'operator' : c.viewer.userId;
  await endSession(c.env, c.tenant.id, target, 'ended', { user: by, via: 'dashboard' });
  return redirect(tenantUrl(c.tenant.id, 'sessions', '?done=ended'));
}
