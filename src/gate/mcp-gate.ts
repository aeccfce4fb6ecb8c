import { McpAgent } from 'agents/mcp';
import type { HostedServerEntry } from '../../servers/registry';
import { platformSecret, sessionIdleMs } from '../config';
import { readBounded } from '../http/bounded-body';
import { rpcError, RpcCode } from '../http/responses';
import { CLIENT_IP_FORWARD_HEADER, CORRELATION_FORWARD_HEADER, encodePrincipal, ownerKey, PRINCIPAL_HEADER, type Principal } from '../hosted/principal';
import { LazyLimiter, rpcTooMany, tenantLimiterName } from '../limits/limits';
import { knownFullFor, rememberFull, rememberRefusal } from '../limits/deny-cache';
import { admitMcpRequest, isolateBudget } from '../limits/lease-budget';
import { endSession, releaseSlot, settleSlot } from '../limits/session-slots';
import type { TenantLimits } from '../limits/tenant-limits';
import { recordDenial } from '../audit/record';
import { requestContext } from '../observability/request-context';
import { touchApiKey } from '../tenancy/api-keys';
import { transportHeaders } from './forward-headers';
import { opensSession, parseJsonRpcBody, validateJsonRpc } from './jsonrpc-validation';
import { resolvePrincipal } from './principal-resolver';
import { encodeModuleRef, MODULE_HEADER } from '../tenant-servers/module-ref';
import { modernModule, type ModernModule } from '../tenant-servers/module-definition';
import { modernUpstream } from '../gateway/modern-upstream';
import { newSessionId, openSessionId, sealSessionId } from './session-id';
import { fetchSession, newRawSessionId, sessionObjectName, sessionTransportRefusal } from './session-route';
import { chooseLane } from '../modern/era';
import { serveModern } from '../modern/modern-lane';

/** Largest MCP request body accepted; larger ones get 413 before anything parses them. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** One MCP endpoint of one hosted server. */
export interface GateTarget {
  server: HostedServerEntry;
  transport: 'mcp' | 'sse';
  /**
   * A tenant-defined name (an upstream served by the gateway, or a deployed module served by the
   * sandbox; src/tenancy/server-names.ts): only meaningful within a tenant, resolved after the token.
   */
  upstream?: boolean;
}

type Forward = { fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> };
const legacyHandlers = new Map<string, Forward>();

/**
 * The framework's handler for the legacy HTTP+SSE transport (`McpAgent.serveSSE`): a stream's
 * messages reach its object over RPC and its answers come back over the WebSocket bridge. Kept for
 * this old transport only; Streamable HTTP goes straight into the object (session-route.ts).
 */
function legacySseHandler(target: GateTarget): Forward {
  const key = `${target.server.binding}/${target.server.name}`;
  let handler = legacyHandlers.get(key);
  if (!handler) {
    handler = McpAgent.serveSSE(`/servers/${target.server.name}/sse`, { binding: target.server.binding });
    legacyHandlers.set(key, handler);
  }
  return handler;
}

/** Everything the transport-specific paths need about one gated request. */
interface Gated {
  env: Env;
  ctx: ExecutionContext;
  target: GateTarget;
  secret: string;
  principal: Principal;
  limits: TenantLimits;
  owner: string;
  /** The client's headers, of which `forwarded` keeps the allowlist. */
  received: Headers;
  /** A deployed module's version reference, forwarded beside the principal. */
  moduleRef?: string;
  /** Built by `forwarded` when a session path first needs them (the stateless lane forwards its own). */
  headers?: Headers;
  /** The caller's `Authorization` header, to memoise a rate refusal by its token's hash (deny-cache.ts). */
  authorization: string | null;
}

/**
 * The headers forwarded to the session: the transport allowlist of the client's (forward-headers.ts;
 * the SDK obeys some other headers as instructions) plus the principal and audit context.
 */
function forwarded(g: Gated): Headers {
  if (g.headers) return g.headers;
  const headers = transportHeaders(g.received);
  headers.set(PRINCIPAL_HEADER, encodePrincipal(g.principal));
  if (g.moduleRef) headers.set(MODULE_HEADER, g.moduleRef);
  const context = requestContext();
  if (context) headers.set(CORRELATION_FORWARD_HEADER, context.correlationId);
  if (context?.ip) headers.set(CLIENT_IP_FORWARD_HEADER, context.ip);
  g.headers = headers;
  return headers;
}

/** The context the framework's handlers get: the request's own, with the principal as props (a class: no closures per request). */
class ForwardContext {
  constructor(
    private readonly ctx: ExecutionContext,
    readonly props: Principal,
  ) {}

  waitUntil(promise: Promise<unknown>): void {
    this.ctx.waitUntil(promise);
  }

  passThroughOnException(): void {
    this.ctx.passThroughOnException();
  }
}

function notFound(g: Gated): Response {
  recordDenial('session id not issued to this caller, or expired', {
    tenant: g.principal.tenantId,
    server: g.target.server.name,
    principal: g.owner,
    action: 'session',
  });
  return rpcError(404, RpcCode.SessionNotFound, 'Session not found');
}

/**
 * The platform gate for MCP routes, after the token is validated: re-reads the caller's role and
 * tenant state, refuses servers the tenant has not enabled, bounds and validates the body, binds
 * sessions to their owner through signed session ids, admits the request against the tenant's
 * limits (tenant rate, the key's or user's minute/hour/day rate, session quota, session liveness:
 * one limiter call for a request that opens a session, an isolate-local lease for the others,
 * src/limits/lease-budget.ts), forwards only the transport's headers (forward-headers.ts), attaches
 * the principal, then hands the request to the session object in one call (Streamable HTTP,
 * session-route.ts) or to the framework's legacy SSE transport.
 */
export async function gateMcpRequest(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
  surfaceTarget: GateTarget,
  grant: unknown,
  clientId: string,
): Promise<Response> {
  let target = surfaceTarget;
  const secret = platformSecret(env);
  if (!secret) return rpcError(503, RpcCode.ServerError, 'Platform not configured: SMCP_SECRET is missing');
  const full = knownFullFor((grant as { tenantId?: unknown } | null)?.tenantId as string);
  if (full > 0) {
    const tenant = (grant as { tenantId: string }).tenantId;
    const hit = {
      which: 'tenant_rpm',
      retryAfter: full,
      message: 'Rate limit exceeded: this tenant has used its requests for this minute',
      tenant,
      server: target.server.name,
    };
    await rememberRefusal(request.headers.get('authorization'), hit);
    return rpcTooMany(env, ctx, hit);
  }
  const resolved = await resolvePrincipal(env, grant, clientId, target.server.name, target.upstream);
  if ('refusal' in resolved) {
    recordDenial(resolved.refusal, { tenant: resolved.tenant, server: target.server.name, path: new URL(request.url).pathname });
    return rpcError(403, RpcCode.Forbidden, resolved.refusal);
  }
  const { principal, limits } = resolved;
  let moduleRef: string | undefined;
  let modern: ModernModule | undefined;
  if (target.upstream) {
    // Another tenant's server of the same name looks exactly like no server at all; no object is created.
    const defined = resolved.defined ?? null; // read with the caller's credential (principal-resolver.ts)
    if (!defined || (defined.kind === 'upstream' && !defined.upstream.enabled)) {
      recordDenial(defined ? 'upstream disabled' : 'no such server for this tenant', { tenant: principal.tenantId, server: target.server.name });
      return rpcError(404, RpcCode.InvalidRequest, `Unknown server "${target.server.name}"`);
    }
    target = { ...target, server: defined.entry };
    if (defined.kind === 'module') {
      moduleRef = encodeModuleRef(defined.module);
      modern = modernModule(env, ctx, principal, defined.module);
    } else {
      modern = modernUpstream(env, principal); // 2026-07-28 clients: relayed per request (src/gateway/modern-upstream.ts)
    }
  }
  const touched = principal.kind === 'api-key' ? touchApiKey(env.DB, principal.clientId) : undefined;
  if (touched) ctx.waitUntil(touched.catch(() => undefined));

  const g: Gated = {
    env,
    ctx: new ForwardContext(ctx, principal) as unknown as ExecutionContext,
    target,
    secret,
    principal,
    limits,
    owner: ownerKey(principal),
    received: request.headers,
    moduleRef,
    authorization: request.headers.get('authorization'),
  };
  if (target.transport !== 'mcp') return jsonErrors(await legacySse(request, g));
  // The era split, after every check above: 2026-07-28 requests are served statelessly in the Worker.
  const lane = await chooseLane(request, MAX_BODY_BYTES);
  if (lane.era === 'refused') return lane.response;
  if (lane.era === '2026-07-28')
    return serveModern(lane, { env, ctx, target, principal, secret, admit: () => admit(g, undefined, false), maxBodyBytes: MAX_BODY_BYTES, module: modern });
  return jsonErrors(await streamable(lane, g));
}

async function readBody(request: Request): Promise<Uint8Array | Response> {
  if (request.method !== 'POST') return new Uint8Array(0);
  const body = await readBounded(request, MAX_BODY_BYTES);
  return body === 'too_large' ? rpcError(413, RpcCode.InvalidRequest, `Request body too large: limit is ${MAX_BODY_BYTES} bytes`) : body;
}

type Admission = { reservation?: string } | Response;

/** Admission of this request against the tenant's limits (a limiter call, or this isolate's lease). */
async function admit(g: Gated, session: string | undefined, opening: boolean): Promise<Admission> {
  const result = await admitMcpRequest(
    new LazyLimiter(g.env, tenantLimiterName(g.principal.tenantId)),
    g.principal.tenantId,
    {
      user: g.principal.userId,
      limits: g.limits,
      session,
      opening,
      idleMs: sessionIdleMs(g.env),
      server: g.target.server.name,
      binding: g.target.server.binding,
      credential: { perMinute: g.limits.credentialPerMinute, perHour: g.limits.credentialPerHour, perDay: g.limits.credentialPerDay },
    },
    g.ctx,
  );
  if (result.ok) {
    // At the caller's own session quota its least recently used session made room: end it for real.
    if (result.evicted) isolateBudget.forget(g.principal.tenantId, result.evicted.name);
    if (result.evicted) await endSession(g.env, g.principal.tenantId, result.evicted, 'evicted', { user: g.principal.userId, client: g.principal.clientId });
    return { reservation: result.reservation };
  }
  if (result.limit === 'unknown_session') return notFound(g);
  const hit = {
    which: result.limit === 'credential' ? (g.principal.kind === 'api-key' ? 'api_key' : 'user') : result.limit,
    retryAfter: result.retryAfter,
    message: result.message,
    tenant: g.principal.tenantId,
    user: g.principal.userId,
    client: g.principal.clientId,
    server: g.target.server.name,
  };
  // Rate windows only fill up until they end: this token is refused before authentication until then (deny-cache.ts).
  if (result.limit === 'tenant_rpm' || result.limit === 'credential') await rememberRefusal(g.authorization, hit);
  if (result.limit === 'tenant_rpm') rememberFull(g.principal.tenantId, result.retryAfter);
  return rpcTooMany(g.env, g.ctx, hit);
}

/** After the framework answered an opening request: confirm the reserved slot, or give it back. */
const settle = (g: Gated, reservation: string | undefined, session: string | null) => settleSlot(g.env, g.principal.tenantId, reservation, session);

/** A 2025-era Streamable HTTP request (a JSON POST's body already read and decoded by the era split). */
async function streamable(lane: { request: Request; body?: Uint8Array; parsed?: unknown }, g: Gated): Promise<Response> {
  const { request } = lane;
  if (!['POST', 'GET', 'DELETE'].includes(request.method)) {
    return rpcError(405, RpcCode.InvalidRequest, 'Method not allowed: use POST, GET or DELETE', { Allow: 'GET, POST, DELETE' });
  }
  const external = request.headers.get('mcp-session-id');
  if (external === null && request.method !== 'POST') return rpcError(400, RpcCode.ServerError, 'Bad Request: Mcp-Session-Id header is required');
  let raw: string | null = null;
  if (external !== null) {
    raw = await openSessionId(g.secret, g.target.server.name, g.owner, external);
    if (!raw) return notFound(g);
    forwarded(g).set('mcp-session-id', raw);
  }
  if (request.method === 'POST' && !request.headers.get('content-type')?.includes('application/json')) {
    return rpcError(415, RpcCode.ServerError, 'Unsupported Media Type: Content-Type must be application/json');
  }
  const body = lane.body ?? (await readBody(request));
  if (body instanceof Response) return body;
  const messages = request.method !== 'POST' ? [] : lane.body ? validateJsonRpc(lane.parsed) : parseJsonRpcBody(body);
  if (messages instanceof Response) return messages;
  const opening = raw === null && opensSession(messages);
  const admission = await admit(g, raw === null ? undefined : sessionObjectName(raw), opening);
  if (admission instanceof Response) return admission;
  // The framework's transport checks, after admission as before (a refused client stays refused).
  const refusal = sessionTransportRefusal(request, messages, raw);
  if (refusal) {
    if (opening) await settle(g, admission.reservation, null);
    return refusal;
  }

  // One call into the session object, which serves Streamable HTTP itself (src/gate/session-route.ts).
  const id = raw ?? newRawSessionId(g.env, g.target.server.binding);
  if (raw === null) forwarded(g).delete('mcp-session-id');
  const toSession = new Request(request.url, { method: request.method, headers: forwarded(g), body: request.method === 'POST' ? body : undefined });
  let response: Response;
  try {
    response = await fetchSession(g.env, g.target.server.binding, id, toSession);
  } catch (error) {
    await settle(g, admission.reservation, null);
    throw error;
  }
  const issued = response.headers.get('mcp-session-id');
  if (opening) await settle(g, admission.reservation, response.ok && issued === id ? sessionObjectName(id) : null);
  // The owner ended the session: its slot is free at once, released here and nowhere else (src/limits/session-slots.ts).
  if (request.method === 'DELETE' && response.ok && raw) {
    isolateBudget.forget(g.principal.tenantId, sessionObjectName(raw));
    await releaseSlot(g.env, g.principal.tenantId, sessionObjectName(raw));
  }
  if (!issued) return response;
  const sealed = external ?? (await sealSessionId(g.secret, g.target.server.name, g.owner, issued));
  const out = new Response(response.body, response);
  out.headers.set('mcp-session-id', sealed);
  return out;
}

async function legacySse(request: Request, g: Gated): Promise<Response> {
  const url = new URL(request.url);
  const isMessage = url.pathname.endsWith('/message');
  const given = url.searchParams.get('sessionId');
  const forward = (req: Request) => legacySseHandler(g.target).fetch(req, g.env, g.ctx);
  if (!isMessage) {
    if (request.method !== 'GET') return rpcError(405, RpcCode.InvalidRequest, 'Method not allowed: GET opens an SSE stream', { Allow: 'GET' });
    if (given !== null && !(await openSessionId(g.secret, g.target.server.name, g.owner, given))) return notFound(g);
    const sessionId = given ?? (await newSessionId(g.secret, g.target.server.name, g.owner));
    const admission = await admit(g, `sse:${sessionId}`, given === null);
    if (admission instanceof Response) return admission;
    url.searchParams.set('sessionId', sessionId);
    const response = await forward(new Request(url, { method: 'GET', headers: forwarded(g) })).catch(async (error: unknown) => {
      await settle(g, admission.reservation, null);
      throw error;
    });
    await settle(g, admission.reservation, response.ok ? `sse:${sessionId}` : null);
    return response;
  }
  if (request.method !== 'POST') return rpcError(405, RpcCode.InvalidRequest, 'Method not allowed: POST messages here', { Allow: 'POST' });
  if (!(await openSessionId(g.secret, g.target.server.name, g.owner, given))) return notFound(g);
  if (!request.headers.get('content-type')?.includes('application/json')) {
    return rpcError(415, RpcCode.ServerError, 'Unsupported Media Type: Content-Type must be application/json');
  }
  const body = await readBody(request);
  if (body instanceof Response) return body;
  const messages = parseJsonRpcBody(body, false);
  if (messages instanceof Response) return messages;
  const admission = await admit(g, `sse:${given}`, false);
  if (admission instanceof Response) return admission;
  return forward(new Request(url, { method: 'POST', headers: forwarded(g), body }));
}

/**
 * The framework answers some errors as plain text, and its JSON ones without a JSON content type;
 * clients always get a JSON-RPC error object with `Content-Type: application/json`.
 */
async function jsonErrors(response: Response): Promise<Response> {
  if (response.status < 400 || response.headers.get('content-type')?.includes('json')) return response;
  const text = (await response.text()).slice(0, 2000);
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === 'number' && typeof parsed.error.message === 'string') {
      return rpcError(response.status, parsed.error.code, parsed.error.message);
    }
  } catch {
    // plain text: wrapped below
  }
  const code = response.status === 404 ? RpcCode.SessionNotFound : RpcCode.ServerError;
  return rpcError(response.status, code, text.slice(0, 300) || 'Request failed');
}
