import { SERVERS, findServer, type HostedServerEntry } from '../../servers/registry';
import { mayPatchTenant, patchTenantOp, ServersInput } from '../admin/admin-operations';
import { publicOrigin } from '../config';
import { html, type SafeHtml } from '../http/html';
import type { TenantContext } from './dashboard';
import { auditDashboardChange } from './dashboard-audit';
import { redirect } from './dashboard-auth';
import { csrfField, dashboardPage, messagePage, tenantUrl } from './dashboard-layout';

/**
 * The servers page: every hosted server, whether this tenant has it enabled, and for enabled ones
 * copy-paste connection snippets for Claude Desktop (through `mcp-remote`), Claude Code, Cursor,
 * VS Code, MCP Inspector and the raw URLs. Open to every role: everyone in the tenant needs to connect.
 * The operator also enables and disables servers for the tenant here.
 */

/** The connection snippets for one server, keyed by client; pure so tests can check them. */
export function connectionSnippets(origin: string, server: HostedServerEntry): Array<{ id: string; label: string; help: string; text: string }> {
  const url = `${origin}/servers/${server.name}/mcp`;
  const key = `smcp-${server.name}`;
  return [
    { id: 'url', label: 'Streamable HTTP URL', help: 'For any client that speaks MCP over HTTP. Legacy SSE clients use …/sse instead.', text: url },
    {
      id: 'claude',
      label: 'Claude Desktop (claude_desktop_config.json, through mcp-remote)',
      help: 'Add under "mcpServers"; Claude Desktop opens the sign-in page on first use.',
      text: JSON.stringify({ mcpServers: { [key]: { command: 'npx', args: ['-y', 'mcp-remote', url] } } }, null, 2),
    },
    {
      id: 'claude-code',
      label: 'Claude Code',
      help: 'Run in a terminal. The first command signs in through the browser (OAuth); the second uses an API key instead (scripts, CI).',
      text: `claude mcp add --transport http ${key} ${url}\nclaude mcp add --transport http ${key} ${url} --header "Authorization: Bearer $SMCP_API_KEY"`,
    },
    {
      id: 'cursor',
      label: 'Cursor (~/.cursor/mcp.json)',
      help: 'Cursor discovers OAuth from the URL.',
      text: JSON.stringify({ mcpServers: { [key]: { url } } }, null, 2),
    },
    {
      id: 'vscode',
      label: 'VS Code (.vscode/mcp.json)',
      help: 'VS Code signs in through the browser (OAuth). With an API key instead, add "headers": { "Authorization": "Bearer ${input:smcp-key}" } and a promptString input "smcp-key".',
      text: JSON.stringify({ servers: { [key]: { type: 'http', url } } }, null, 2),
    },
    {
      id: 'inspector',
      label: 'MCP Inspector',
      help: 'Opens the Inspector; choose transport "Streamable HTTP", then "Open Auth Settings" → quick OAuth flow.',
      text: `npx @modelcontextprotocol/inspector --transport http --server-url ${url}`,
    },
    { id: 'sse', label: 'Legacy HTTP+SSE URL', help: 'Only for clients that do not support Streamable HTTP.', text: `${origin}/servers/${server.name}/sse` },
  ];
}

function snippetBlock(server: HostedServerEntry, origin: string): SafeHtml {
  return html`${connectionSnippets(origin, server).map((s) => {
    const id = `snippet-${server.name}-${s.id}`;
    return html`<div class="snippet">
  <div class="snippet-head"><h4 id="${id}-label">${s.label}</h4>
  <button type="button" class="copy" data-copy="${id}" aria-describedby="${id}-label">Copy</button></div>
  <p class="muted">${s.help}</p>
  <pre><code id="${id}">${s.text}</code></pre>
</div>`;
  })}`;
}

/** The operator's enable/disable button for one server of this tenant. */
function operatorToggle(c: TenantContext, server: HostedServerEntry, enabled: boolean): SafeHtml {
  if (c.viewer.kind !== 'operator') return html``;
  const action = enabled ? 'disable' : 'enable';
  return html`<form method="post" action="${tenantUrl(c.tenant.id, 'servers', `/${server.name}/${action}`)}" class="inline">${csrfField(c.viewer)}
    <button type="submit" class="${enabled ? 'danger' : ''}" aria-label="${enabled ? 'Disable' : 'Enable'} ${server.title} for ${c.tenant.name}">${enabled ? 'Disable' : 'Enable'} for this tenant</button></form>`;
}

const DONE: Record<string, string> = {
  enabled: 'Server enabled for this tenant.',
  disabled: 'Server disabled for this tenant. Its sessions are refused from the next request.',
};

/** `GET /dashboard/t/<t>/servers`. */
export function serversPage(c: TenantContext): Response {
  const origin = publicOrigin(c.env);
  const suspended = c.tenant.status === 'suspended';
  const done = DONE[c.url.searchParams.get('done') ?? ''];
  const cards = SERVERS.map((server) => {
    const enabled = c.tenant.servers.includes(server.name);
    const status = suspended ? 'Suspended' : enabled ? 'Enabled' : 'Not enabled';
    const statusClass = suspended ? 'badge bad' : enabled ? 'badge ok' : 'badge';
    return html`<section class="panel" aria-labelledby="server-${server.name}">
  <h2 id="server-${server.name}">${server.title} <span class="${statusClass}">${status}</span></h2>
  <p class="muted">Server name <code>${server.name}</code> ${operatorToggle(c, server, enabled)}</p>
  ${enabled && !suspended ? snippetBlock(server, origin) : html`<p>${suspended ? 'This organization is suspended; connections are refused.' : 'Not enabled for this organization. The platform operator enables servers.'}</p>`}
</section>`;
  });
  const intro = html`<p>Connect an MCP client with the snippets below. Clients sign in through this platform (OAuth); for
scripts and CI, use an API key as a bearer token instead.</p>`;
  const banner = done ? html`<p class="notice" role="status">${done}</p>` : '';
  return dashboardPage({ viewer: c.viewer, tenant: c.tenant, active: 'servers', title: 'Servers', body: html`${banner}${intro}${cards}` });
}

/**
 * `POST /dashboard/t/<t>/servers/<name>/enable|disable` (the operator only; the router refuses
 * everyone else): the same change and audit event as `PATCH /admin/api/tenants/<t>` with `servers`.
 */
export async function setServerEnabled(c: TenantContext): Promise<Response> {
  const server = findServer(c.id);
  const enable = c.url.pathname.endsWith('/enable');
  const servers = server ? (enable ? [...new Set([...c.tenant.servers, server.name])] : c.tenant.servers.filter((s) => s !== server.name)) : [];
  const parsed = ServersInput.safeParse(servers);
  if (!server || !parsed.success || !mayPatchTenant(c.actor, { servers: parsed.data })) {
    await auditDashboardChange(c, c.tenant.id, 'admin.tenant.update', c.tenant.id, 'error', { status: 404, server: c.id });
    return messagePage(c.viewer, 404, 'Not found', 'There is no such server.');
  }
  await patchTenantOp(c.env, c.actor, c.tenant, { servers: parsed.data });
  await auditDashboardChange(c, c.tenant.id, 'admin.tenant.update', c.tenant.id, 'ok', { servers: parsed.data });
  return redirect(tenantUrl(c.tenant.id, 'servers', `?done=${enable ? 'enabled' : 'disabled'}`));
}
