import { findServer, SERVERS, SERVER_NAME_PATTERN, type HostedServerEntry } from '../../servers/registry';
import type { AuditEvent } from '../audit/audit-event';
import { queryAudit } from '../audit/audit-query';
import { publicOrigin } from '../config';
import type { GateTarget } from '../gate/mcp-gate';
import { listUpstreams } from '../gateway/upstream-store';
import { html, type SafeHtml } from '../http/html';
import { requestContext } from '../observability/request-context';
import { moduleEntry, tenantDefinedServer, upstreamEntry } from '../tenancy/server-names';
import { listTenantServers } from '../tenant-servers/module-store';
import type { TenantContext } from './dashboard';
import { csrfField, dashboardPage, messagePage, tenantUrl, type Viewer } from './dashboard-layout';
import { argumentsFrom, postedValues, toolForm, type ToolInfo } from './playground-form';
import { PLAYGROUND_CLIENT_ID, PlaygroundSession, type RpcOutcome } from './playground-mcp';
import { auditPanel, resultPanel } from './playground-result';

/**
 * The tool playground: a signed-in tenant user picks one of the tenant's servers (hosted servers
 * enabled for it, its enabled upstreams and its deployed modules), sees the tools
 * their role may call (the server's own filtered `tools/list`) with forms built from the input
 * schemas, calls one as themselves and sees the result and the audit event the call produced.
 * Calls go through the platform gate with the user's identity (playground-mcp.ts), so the policy is
 * exactly a client's: a tool the role may not call is refused (and audited) by the platform, even
 * when its form is forged. The operator is not a tenant user and has no playground.
 */

type UserViewer = Extract<Viewer, { kind: 'user' }>;

/** How long the page waits for the call's audit event (the session ships its outbox when it ends). */
const AUDIT_WAIT_MS = 3000;

function grantOf(viewer: UserViewer) {
  return { tenantId: viewer.tenantId, userId: viewer.userId, email: viewer.email, role: viewer.role };
}

/** The tenant's servers: enabled hosted ones, then its enabled upstreams and its deployed modules. */
async function tenantServers(c: TenantContext): Promise<HostedServerEntry[]> {
  const [upstreams, modules] = await Promise.all([listUpstreams(c.env.DB, c.tenant.id), listTenantServers(c.env.DB, c.tenant.id)]);
  return [
    ...SERVERS.filter((s) => c.tenant.servers.includes(s.name)),
    ...upstreams.filter((u) => u.enabled).map((u) => upstreamEntry(u.name)),
    ...modules.map((m) => moduleEntry(m.name, m.title)),
  ];
}

async function serverPicker(c: TenantContext, current: GateTarget | null): Promise<SafeHtml> {
  const servers = await tenantServers(c);
  if (!servers.length) return html`<p>No server is enabled for this organization.</p>`;
  return html`<nav aria-label="Servers" class="picker"><ul>${servers.map(
    (s) =>
      html`<li><a href="${tenantUrl(c.tenant.id, 'playground', `/${s.name}`)}"${s.name === current?.server.name ? html` aria-current="page"` : ''}>${s.title}</a></li>`,
  )}</ul></nav>`;
}

function toolSection(c: TenantContext, server: GateTarget, tool: ToolInfo, index: number, values?: Map<string, string>): SafeHtml {
  const hints = tool.annotations ?? {};
  const badges = html`${hints.readOnlyHint ? html` <span class="badge ok">read-only</span>` : ''}${hints.destructiveHint ? html` <span class="badge bad">destructive</span>` : ''}`;
  const action = tenantUrl(c.tenant.id, 'playground', `/${server.server.name}/call`);
  return html`<section class="panel" aria-labelledby="tool-${String(index)}" data-tool="${tool.name}">
  <h2 id="tool-${String(index)}"><code>${tool.name}</code>${badges}</h2>
  ${tool.description ? html`<p>${tool.description}</p>` : ''}
  ${toolForm(action, csrfField(c.viewer), `tool-form-${String(index)}`, tool, values)}
</section>`;
}

async function page(c: TenantContext, server: GateTarget | null, body: SafeHtml, status = 200): Promise<Response> {
  const intro = html`<p>Call a tool as yourself (${(c.viewer as UserViewer).email}, ${(c.viewer as UserViewer).role}). The platform applies the same
policy, limits and audit as for any MCP client: you see and can call only the tools your role allows.</p>`;
  const title = server ? `Playground: ${server.server.title}` : 'Playground';
  return dashboardPage({
    viewer: c.viewer,
    tenant: c.tenant,
    active: 'playground',
    title,
    status,
    dataImages: true,
    body: html`${intro}${await serverPicker(c, server)}${body}`,
  });
}

/**
 * The viewer as a tenant user and the gate target the path names (a hosted server, or one of this
 * tenant's upstreams or deployed modules, resolved as the gate resolves them), or the page that says why not.
 */
async function target(c: TenantContext): Promise<{ viewer: UserViewer; server: GateTarget | null } | Response> {
  if (c.viewer.kind !== 'user')
    return messagePage(
      c.viewer,
      403,
      'Playground',
      'The playground calls tools as a user of the organization; the operator token is not one. Sign in as a tenant user.',
    );
  if (!c.id) return { viewer: c.viewer, server: null };
  const hosted = findServer(c.id);
  if (hosted) return { viewer: c.viewer, server: { server: hosted, transport: 'mcp' } };
  const defined = SERVER_NAME_PATTERN.test(c.id) ? await tenantDefinedServer(c.env.DB, c.tenant.id, c.id) : null;
  if (defined) return { viewer: c.viewer, server: { server: defined.entry, transport: 'mcp', upstream: true } };
  return messagePage(c.viewer, 404, 'Not found', 'There is no such server.');
}

async function listTools(session: PlaygroundSession): Promise<{ tools: ToolInfo[] } | Extract<RpcOutcome, { ok: false }>> {
  const listed = await session.request('tools/list', {});
  if (!listed.ok) return listed;
  const tools = (listed.result as { tools?: unknown } | undefined)?.tools;
  return { tools: Array.isArray(tools) ? (tools as ToolInfo[]).filter((t) => typeof t?.name === 'string') : [] };
}

/** `GET /dashboard/t/<t>/playground[/<server>]`: the picker, or the server's tools with their forms. */
export async function playgroundPage(c: TenantContext): Promise<Response> {
  const t = await target(c);
  if (t instanceof Response) return t;
  if (!t.server) return page(c, null, html`<p>Choose a server.</p>`);
  const session = await PlaygroundSession.open(c.env, publicOrigin(c.env), t.server, grantOf(t.viewer));
  if (!(session instanceof PlaygroundSession)) return page(c, t.server, resultPanel('initialize', session), session.status);
  try {
    const listed = await listTools(session);
    if (!('tools' in listed)) return page(c, t.server, resultPanel('tools/list', listed), listed.status);
    const body = listed.tools.length
      ? listed.tools.map((tool, i) => toolSection(c, t.server!, tool, i))
      : html`<p>Your role may call no tool of this server.</p>`;
    return page(c, t.server, html`${body}`);
  } finally {
    await session.close();
  }
}

/** `POST /dashboard/t/<t>/playground/<server>/call` with `tool` and `arg:<name>` fields. */
export async function playgroundCall(c: TenantContext): Promise<Response> {
  const t = await target(c);
  if (t instanceof Response) return t;
  const server = t.server!;
  const toolName = String(c.form?.get('tool') ?? '').slice(0, 128);
  const values = postedValues(c.form!);
  const startedAt = Date.now();
  const session = await PlaygroundSession.open(c.env, publicOrigin(c.env), server, grantOf(t.viewer));
  if (!(session instanceof PlaygroundSession)) return page(c, server, resultPanel(toolName, session), session.status);
  let sections: SafeHtml[];
  let outcome: RpcOutcome;
  try {
    const listed = await listTools(session);
    const tools = 'tools' in listed ? listed.tools : [];
    const tool = tools.find((x) => x.name === toolName);
    // A tool missing from the caller's list is still called (with the posted values as strings): the
    // platform refuses and audits it, as it would for any client that asks.
    const built = tool ? argumentsFrom(tool, values) : { args: Object.fromEntries(values) };
    if ('error' in built) {
      return page(
        c,
        server,
        html`<p class="error" role="alert">${built.error}</p>${tools.map((x, i) => toolSection(c, server, x, i, x === tool ? values : undefined))}`,
        400,
      );
    }
    outcome = await session.request('tools/call', { name: toolName, arguments: built.args });
    sections = tools.map((x, i) => toolSection(c, server, x, i, x === tool ? values : undefined));
  } finally {
    await session.close();
  }
  const correlationId = requestContext()?.correlationId ?? '';
  const event = await findCallEvent(c, t.viewer, server.server.name, correlationId, startedAt, AUDIT_WAIT_MS);
  const retry = tenantUrl(c.tenant.id, 'playground', `/${server.server.name}/event?correlation=${encodeURIComponent(correlationId)}&at=${startedAt}`);
  return page(c, server, html`${resultPanel(toolName, outcome)}${auditPanel(event, retry)}${sections}`);
}

/** `GET /dashboard/t/<t>/playground/<server>/event?correlation=…&at=…`: the viewer's own call event. */
export async function playgroundEvent(c: TenantContext): Promise<Response> {
  const t = await target(c);
  if (t instanceof Response) return t;
  const correlationId = c.url.searchParams.get('correlation') ?? '';
  const at = Number(c.url.searchParams.get('at'));
  if (!/^[A-Za-z0-9._:-]{8,64}$/.test(correlationId) || !Number.isSafeInteger(at) || at <= 0)
    return messagePage(c.viewer, 400, 'Bad request', 'This link is malformed.');
  const event = await findCallEvent(c, t.viewer, t.server!.server.name, correlationId, at, 0);
  return page(c, t.server, auditPanel(event, c.url.pathname + c.url.search));
}

/** The `tools/call` event of this user, server and correlation id since `from`, polled for up to `waitMs`. */
async function findCallEvent(
  c: TenantContext,
  viewer: UserViewer,
  server: string,
  correlationId: string,
  from: number,
  waitMs: number,
): Promise<AuditEvent | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const { events } = await queryAudit(c.env, {
      tenant: c.tenant.id,
      since: c.tenant.createdAt,
      from: from - 1000,
      user: viewer.userId,
      server,
      action: 'tools/call',
      limit: 50,
    });
    const event = events.find((e) => e.correlationId === correlationId && e.client === PLAYGROUND_CLIENT_ID);
    if (event || Date.now() >= deadline) return event ?? null;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
