import { createMcpHandler, type McpHttpHandler } from '@modelcontextprotocol/server';
import * as serverClasses from '../../servers/classes';
import type { AuditEventInput } from '../audit/audit-event';
import { recordAuditBatched } from '../audit/record';
import { toAuditEvent } from '../audit/audit-record';
import type { GateTarget } from '../gate/mcp-gate';
import { modernTransportHeaders } from '../gate/forward-headers';
import { validateJsonRpc } from '../gate/jsonrpc-validation';
import type { ServerDefinition } from '../hosted/author-api';
import type { Principal } from '../hosted/principal';
import { rpcError, RpcCode } from '../http/responses';
import { log } from '../observability/log';
import { requestContext } from '../observability/request-context';
import type { Lane } from './era';
import { claimListenSlot, LISTEN_RETRY_AFTER_SECONDS, MAX_LISTEN_STREAMS_PER_TENANT, releasingOnClose } from './listen-streams';
import { buildModernServer } from './modern-server';

/** Everything the gate established about a request before the lane split. */
export interface Admitted {
  env: Env;
  ctx: ExecutionContext;
  target: GateTarget;
  principal: Principal;
  secret: string;
  /** The one call to the tenant's limiter (rate), shared with the 2025 lane; a Response refuses. */
  admit: () => Promise<unknown>;
  maxBodyBytes: number;
  /** A tenant-deployed module (src/tenant-servers/module-definition.ts): its definition and a cache key per tenant and version. */
  module?: { key: string; definition: () => Promise<ServerDefinition | Response> };
}

interface LaneEntry {
  handler: McpHttpHandler;
  definition: ServerDefinition;
}

/**
 * Per-isolate: one SDK handler per (server, tenant), the registrations cached by the definition.
 * A handler owns its `subscriptions/listen` streams and list-changed bus, so keying by tenant keeps
 * one tenant's notifications off another tenant's streams (deployed modules are keyed per tenant
 * incarnation and version already).
 */
const handlers = new Map<string, LaneEntry>();
/**
 * Most handlers one isolate keeps: tenants times servers, and a new key per module redeploy, so
 * without a bound the map (and the definitions it holds) would grow for as long as the isolate
 * lives. The oldest entry goes first; its open listen streams end with their own requests.
 */
const MAX_HANDLERS = 500;

/** Per-request inputs to the factory, carried through the SDK's pass-through `authInfo`. */
interface RequestScope {
  admitted: Admitted;
  /** The tool a single `tools/call` names (the server then registers only it). */
  onlyTool?: string;
  /** Set once the guard recorded this request's audit event. */
  recorded?: boolean;
  correlationId?: string;
  ip?: string;
}

function definitionOf(target: GateTarget): ServerDefinition | undefined {
  const cls = (serverClasses as Record<string, unknown>)[target.server.className] as { definition?: ServerDefinition } | undefined;
  return cls?.definition;
}

function laneFor(target: GateTarget, definition: ServerDefinition, key: string): LaneEntry {
  let entry = handlers.get(key);
  if (entry) return entry;
  const handler: McpHttpHandler = createMcpHandler(
    (context) => {
      const scope = (context.authInfo?.extra as { scope?: RequestScope } | undefined)?.scope;
      if (!scope) throw new Error('stateless lane: request without the gate scope');
      const { env, principal, secret } = scope.admitted;
      return buildModernServer(definition, {
        env,
        secret,
        principal,
        listChanged: (kind) =>
          kind === 'tools' ? handler.notify.toolsChanged() : kind === 'prompts' ? handler.notify.promptsChanged() : handler.notify.resourcesChanged(),
        guard: {
          principal,
          correlationId: scope.correlationId,
          ip: scope.ip,
          record: (event, sensitive) => {
            scope.recorded = true;
            record(scope.admitted, event, sensitive);
          },
        },
        onlyTool: scope.onlyTool,
      });
    },
    {
      legacy: 'reject',
      maxRequestBodySize: 1024 * 1024,
      onerror: (error) => log('warn', 'modern.error', { server: target.server.name, error: String(error).slice(0, 300) }),
    },
  );
  entry = { handler, definition };
  if (handlers.size >= MAX_HANDLERS) handlers.delete(handlers.keys().next().value!);
  handlers.set(key, entry);
  return entry;
}

/** One audit event, made durable in the tenant's Worker-side outbox without delaying the answer (batched with concurrent requests'). */
function record(admitted: Admitted, event: AuditEventInput, sensitive: ReadonlySet<string>): void {
  // Redact with the tool's sensitive names here: the Worker-side recorder only knows global secret names.
  const details = toAuditEvent(event, sensitive).details ?? undefined;
  admitted.ctx.waitUntil(recordAuditBatched(admitted.env, { ...event, details }));
}

/**
 * The 2026-07-28 lane: stateless, in the Worker, after the same token validation and gate checks
 * as the 2025 lane. No session object, no WebSocket bridge: an SDK v2 server is built per request
 * from the server's one definition (cached per isolate) and answers through the SDK's per-request
 * transport, which owns the revision's wire rules (the `_meta` envelope, header/body agreement,
 * unsupported versions, server/discover, input_required, cache hints, subscriptions/listen).
 */
export async function serveModern(lane: Extract<Lane, { era: '2026-07-28' }>, admitted: Admitted): Promise<Response> {
  const { request } = lane;
  if (request.method !== 'POST') {
    return rpcError(405, RpcCode.InvalidRequest, 'Method not allowed: MCP 2026-07-28 has no GET stream and no sessions; POST each request', { Allow: 'POST' });
  }
  // Compiled-in servers carry their definition; deployed modules and tenant upstreams hand theirs in (the gate resolved the name).
  const definition = admitted.module ? await admitted.module.definition() : definitionOf(admitted.target);
  if (definition instanceof Response) return definition;
  if (!definition) return rpcError(404, RpcCode.InvalidRequest, `Unknown server "${admitted.target.server.name}"`);
  const messages = validateJsonRpc(lane.parsed);
  if (messages instanceof Response) return messages;
  const admission = await admitted.admit();
  if (admission instanceof Response) return admission;

  // Allowlist (forward-headers.ts): no credentials, nothing the SDK might obey beyond the transport.
  const headers = modernTransportHeaders(request.headers);
  const forwarded = new Request(request.url, { method: 'POST', headers, body: lane.body });
  const context = requestContext();
  const single = messages.length === 1 ? messages[0] : undefined;
  const onlyTool =
    single && 'method' in single && single.method === 'tools/call' && typeof (single.params as { name?: unknown } | undefined)?.name === 'string'
      ? String((single.params as { name: string }).name)
      : undefined;
  const scope: RequestScope = { admitted, onlyTool, correlationId: context?.correlationId, ip: context?.ip ?? undefined };
  const listening = single !== undefined && 'method' in single && single.method === 'subscriptions/listen';
  const release = listening ? claimListenSlot(admitted.principal.tenantId) : undefined;
  if (release === null) return refuseListen(admitted, scope);
  const { handler } = laneFor(admitted.target, definition, admitted.module?.key ?? `${admitted.target.server.name}|${admitted.principal.tenantId}`);
  let response: Response;
  try {
    response = await handler.fetch(forwarded, {
      parsedBody: lane.parsed,
      authInfo: { token: 'gate-verified', clientId: admitted.principal.clientId, scopes: [], extra: { scope } },
    });
  } catch (error) {
    release?.();
    throw error;
  }
  if (!scope.recorded && response.status >= 400 && single && 'method' in single) await auditRejection(admitted, scope, single, response);
  if (!release) return response;
  // A listen stream never reaches the request guard (the SDK answers it itself): its one event is recorded here.
  if (!scope.recorded && response.ok) record(admitted, listenEvent(admitted, scope, 'ok'), new Set());
  return response.ok ? releasingOnClose(response, release) : (release(), response);
}

function listenEvent(admitted: Admitted, scope: RequestScope, result: 'ok' | 'rate_limited'): AuditEventInput {
  const { principal } = admitted;
  return {
    tenant: principal.tenantId,
    user: principal.userId,
    client: principal.clientId,
    server: principal.server,
    action: 'subscriptions/listen',
    result,
    correlationId: scope.correlationId,
    ip: scope.ip,
    details: { era: '2026-07-28', ...(result === 'rate_limited' ? { limit: MAX_LISTEN_STREAMS_PER_TENANT } : {}) },
  };
}

/** The tenant already holds its bound of listen streams in this isolate: 429, audited once. */
function refuseListen(admitted: Admitted, scope: RequestScope): Response {
  record(admitted, listenEvent(admitted, scope, 'rate_limited'), new Set());
  return rpcError(
    429,
    RpcCode.ServerError,
    `Too many open subscriptions/listen streams: a tenant may hold ${MAX_LISTEN_STREAMS_PER_TENANT} at once; close one first`,
    {
      'Retry-After': String(LISTEN_RETRY_AFTER_SECONDS),
    },
  );
}

/**
 * The SDK answers wire-level rejections (bad envelope -32602, header/body disagreement -32020,
 * unsupported version -32022, missing client capability -32021, unknown method) with HTTP 4xx
 * before any handler, so the guard never saw the request: record its one audit event here, as an
 * error with the code.
 */
async function auditRejection(admitted: Admitted, scope: RequestScope, message: { method: string; params?: unknown }, response: Response): Promise<void> {
  const answer = (await response
    .clone()
    .json()
    .catch(() => null)) as { error?: { code?: unknown; message?: unknown } } | null;
  const params = (message.params ?? {}) as { name?: unknown; uri?: unknown };
  const { principal } = admitted;
  record(
    admitted,
    {
      tenant: principal.tenantId,
      user: principal.userId,
      client: principal.clientId,
      server: principal.server,
      action: message.method,
      resource: typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined,
      result: 'error',
      correlationId: scope.correlationId,
      ip: scope.ip,
      details: { era: '2026-07-28', status: response.status, code: answer?.error?.code, error: String(answer?.error?.message ?? '').slice(0, 300) },
    },
    new Set(),
  );
}
