import { SERVERS, type HostedServerEntry } from '../../servers/registry';
import { publicOrigin } from '../config';
import { html, type SafeHtml } from '../http/html';
import type { TenantContext } from './dashboard';
import { dashboardPage } from './dashboard-layout';

/**
 * The servers page: every hosted server, whether this tenant has it enabled, and for enabled ones
 * copy-paste connection snippets for Claude Desktop (through `mcp-remote`), Cursor, MCP Inspector
 * and the raw URLs. Open to every role: everyone in the tenant needs to connect.
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
    { id: 'cursor', label: 'Cursor (~/.cursor/mcp.json)', help: 'Cursor discovers OAuth from the URL.', text: JSON.stringify({ mcpServers: { [key]: { url } } }, null, 2) },
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

/** `GET /dashboard/t/<t>/servers`. */
export function serversPage(c: TenantContext): Response {
  const origin = publicOrigin(c.env);
  const suspended = c.tenant.status === 'suspended';
  const cards = SERVERS.map((server) => {
    const enabled = c.tenant.servers.includes(server.name);
    const status = suspended ? 'Suspended' : enabled ? 'Enabled' : 'Not enabled';
    const statusClass = suspended ? 'badge bad' : enabled ? 'badge ok' : 'badge';
    return html`<section class="panel" aria-labelledby="server-${server.name}">
  <h2 id="server-${server.name}">${server.title} <span class="${statusClass}">${status}</span></h2>
  <p class="muted">Server name <code>${server.name}</code></p>
  ${enabled && !suspended ? snippetBlock(server, origin) : html`<p>${suspended ? 'This organization is suspended; connections are refused.' : 'Not enabled for this organization. The platform operator enables servers.'}</p>`}
</section>`;
  });
  const intro = html`<p>Connect an MCP client with the snippets below. Clients sign in through this platform (OAuth); for
scripts and CI, use an API key as a bearer token instead.</p>`;
  return dashboardPage({ viewer: c.viewer, tenant: c.tenant, active: 'servers', title: 'Servers', body: html`${intro}${cards}` });
}
