import { findServer, SERVERS, type HostedServerEntry } from '../../servers/registry';
import type { AuditEvent } from '../audit/audit-event';
import { queryAudit } from '../audit/audit-query';
import { publicOrigin } from '../config';
import { html, type SafeHtml } from '../http/html';
import { requestContext } from '../observability/request-context';
import type { TenantContext } from './dashboard';
import { csrfField, dashboardPage, messagePage, tenantUrl, type Viewer } from './dashboard-layout';
import { argumentsFrom, postedValues, toolForm, type ToolInfo } from './playground-form';
import { PLAYGROUND_CLIENT_ID, PlaygroundSession, type RpcOutcome } from './playground-mcp';
import { auditPanel, resultPanel } from './playground-result';

/**
 * The tool playground: a signed-in tenant user picks one of the tenant's servers, sees the tools
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

function serverPicker(c: TenantContext, current: HostedServerEntry | null): SafeHtml {
  const enabled = SERVERS.filter((s) => c.tenant.servers.includes(s.name));
  if (!enabled.length) return html`<p>No server is enabled for this organization.</p>`;
  return html`<nav aria-label="Servers" class="picker"><ul>${enabled.map(
    (s) => html`<li><a href="${tenantUrl(c.tenant.id, 'playground', `/${s.name}`)}"${s === current ? html` aria-current="page"` : ''}>${s.title}</a></li>`,
  )}</ul></nav>`;
}

function toolSection(c: TenantContext, server: HostedServerEntry, tool: ToolInfo, index: number, values?: Map<string, string>): SafeHtml {
  const hints = tool.annotations ?? {};
  const badges = html`${hints.readOnlyHint ? html` <span class="badge ok">read-only</span>` : ''}${hints.destructiveHint ? html` <span class="badge bad">destructive</span>` : ''}`;
  const action = tenantUrl(c.tenant.id, 'playground', `/${server.name}/call`);
  return html`<section class="panel" aria-labelledby="tool-${String(index)}" data-tool="${tool.name}">
  <h2 id="tool-${String(index)}"><code>${tool.name}</code>${badges}</h2>
  ${tool.description ? html`<p>${tool.description}</p>` : ''}
  ${toolForm(action, csrfField(c.viewer), `tool-form-${String(index)}`, tool, values)}
</section>`;
}

function page(c: TenantContext, server: HostedServerEntry | null, body: SafeHtml, status = 200): Response {
  const intro = html`<p>Call a tool as yourself (${(c.viewer as UserViewer).email}, ${(c.viewer as UserViewer).role}). The platform applies the same
policy, limits and audit as for any MCP client: you see and can call only the tools your role allows.</p>`;
  const title = server ? `Playground: ${server.title}` : 'Playground';
  return dashboardPage({ viewer: c.viewer, tenant: c.tenant, active: 'playground', title, status, dataImages: true, body: html`${intro}${serverPicker(c, server)}${body}` });
}

/** The viewer as a tenant user and the server named in the path, or the page that says why not. */
function target(c: TenantContext): { viewer: UserViewer; server: HostedServerEntry | null } | Response {
  if (c.viewer.kind !== 'user') return messagePage(c.viewer, 403, 'Playground', 'The playground calls tools as a user of the organization; the operator token is not one. Sign in as a tenant user.');
  const server = c.id ? findServer(c.id) : null;
  if (c.id && !server) return messagePage(c.viewer, 404, 'Not found', 'There is no such server.');
  return { viewer: c.viewer, server: server ?? null };
}

async function listTools(session: PlaygroundSession): Promise<{ tools: ToolInfo[] } | Extract<RpcOutcome, { ok: false }>> {
  const listed = await session.request('tools/list', {});
  if (!listed.ok) return listed;
  const tools = (listed.result as { tools?: unknown } | undefined)?.tools;
  return { tools: Array.isArray(tools) ? (tools as ToolInfo[]).filter((t) => typeof t?.name === 'string') : [] };
}

/** `GET /dashboard/t/<t>/playground[/<server>]`. */
export async function playgroundPage(c: TenantContext): Promise<Response> {
  const t = target(c);
  if (t instanceof Response) return t;
  if (!t.server) return page(c, null, html`<p>Choose a server.</p>`);
  const session = await PlaygroundSession.open(c.env, publicOrigin(c.env), t.server, grantOf(t.viewer));
  if (!(session instanceof PlaygroundSession)) return page(c, t.server, resultPanel('initialize', session), session.status);
  try {
    const listed = await listTools(session);
    if (!('tools' in listed)) return page(c, t.server, resultPanel('tools/list', listed), listed.status);
    const body = listed.tools.length ? listed.tools.map((tool, i) => toolSection(c, t.server!, tool, i)) : html`<p>Your role may call no tool of this server.</p>`;
    return page(c, t.server, html`${body}`);
  } finally {
    await session.close();
  }
}

/** `POST /dashboard/t/<t>/playground/<server>/call` with `tool` and `arg:<name>` fields. */
export async function playgroundCall(c: TenantContext): Promise<Response> {
  const t = target(c);
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
      return page(c, server, html`<p class="error" role="alert">${built.error}</p>${tools.map((x, i) => toolSection(c, server, x, i, x === tool ? values : undefined))}`, 400);
    }
    outcome = await session.request('tools/call', { name: toolName, arguments: built.args });
    sections = tools.map((x, i) => toolSection(c, server, x, i, x === tool ? values : undefined));
  } finally {
    await session.close();
  }
  const correlationId = requestContext()?.correlationId ?? '';
  const event = await findCallEvent(c, t.viewer, server.name, correlationId, startedAt, AUDIT_WAIT_MS);
  const retry = tenantUrl(c.tenant.id, 'playground', `/${server.name}/event?correlation=${encodeURIComponent(correlationId)}&at=${startedAt}`);
  return page(c, server, html`${resultPanel(toolName, outcome)}${auditPanel(event, retry)}${sections}`);
}

/** `GET /dashboard/t/<t>/playground/<server>/event?correlation=…&at=…`: the viewer's own call event. */
export async function playgroundEvent(c: TenantContext): Promise<Response> {
  const t = target(c);
  if (t instanceof Response) return t;
  const correlationId = c.url.searchParams.get('correlation') ?? '';
  const at = Number(c.url.searchParams.get('at'));
  if (!/^[A-Za-z0-9._:-]{8,64}$/.test(correlationId) || !Number.isSafeInteger(at) || at <= 0) return messagePage(c.viewer, 400, 'Bad request', 'This link is malformed.');
  const event = await findCallEvent(c, t.viewer, t.server!.name, correlationId, at, 0);
  return page(c, t.server, auditPanel(event, c.url.pathname + c.url.search));
}

/** The `tools/call` event of this user, server and correlation id since `from`, polled for up to `waitMs`. */
async function findCallEvent(c: TenantContext, viewer: UserViewer, server: string, correlationId: string, from: number, waitMs: number): Promise<AuditEvent | null> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const { events } = await queryAudit(c.env, { tenant: c.tenant.id, since: c.tenant.createdAt, from: from - 1000, user: viewer.userId, server, action: 'tools/call', limit: 50 });
    const event = events.find((e) => e.correlationId === correlationId && e.client === PLAYGROUND_CLIENT_ID);
    if (event || Date.now() >= deadline) return event ?? null;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
