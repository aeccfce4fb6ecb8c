import { McpAgent } from 'agents/mcp';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import type { HostedServerEntry } from '../../servers/registry';
import { platformSecret } from '../config';
import { rpcError, RpcCode } from '../http/responses';
import { CLIENT_IP_FORWARD_HEADER, CORRELATION_FORWARD_HEADER, encodePrincipal, ownerKey, PRINCIPAL_HEADER } from '../hosted/principal';
import { logDenial } from '../observability/log';
import { requestContext } from '../observability/request-context';
import { touchApiKey } from '../tenancy/api-keys';
import { resolvePrincipal } from './principal-resolver';
import { getUpstream } from '../gateway/upstream-store';
import { newSessionId, openSessionId, sealSessionId } from './session-id';

/** Largest MCP request body accepted; larger ones get 413 before anything parses them. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** One MCP endpoint of one hosted server. */
export interface GateTarget {
  server: HostedServerEntry;
  transport: 'mcp' | 'sse';
  /** A tenant upstream served by the gateway (the name is only meaningful within a tenant). */
  upstream?: boolean;
}

type Forward = { fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> };
const handlers = new Map<string, Forward>();

function frameworkHandler(target: GateTarget): Forward {
  const key = `${target.server.name}/${target.transport}`;
  let handler = handlers.get(key);
  if (!handler) {
    const base = `/servers/${target.server.name}/${target.transport}`;
    handler = target.transport === 'mcp'
      ? McpAgent.serve(base, { binding: target.server.binding })
      : McpAgent.serveSSE(base, { binding: target.server.binding });
    handlers.set(key, handler);
  }
  return handler;
}

function notFound(s: SessionScope): Response {
  logDenial('session id not issued to this caller', { tenant: s.tenant, server: s.server, principal: s.owner, action: 'session' });
  return rpcError(404, RpcCode.SessionNotFound, 'Session not found');
}

/**
 * The platform gate for MCP routes, after the token is validated: re-reads the caller's role and
 * tenant state, refuses servers the tenant has not enabled, bounds the body, binds sessions to their
 * owner through signed session ids, strips credentials, attaches the principal, then hands the
 * request to the framework's transport handler.
 */
export async function gateMcpRequest(request: Request, env: Env, ctx: ExecutionContext, target: GateTarget, grant: unknown, clientId: string): Promise<Response> {
  const secret = platformSecret(env);
  if (!secret) return rpcError(503, RpcCode.ServerError, 'Platform not configured: SMCP_SECRET is missing');
  const resolved = await resolvePrincipal(env, grant, clientId, target.server.name, target.upstream);
  if ('refusal' in resolved) {
    logDenial(resolved.refusal, { tenant: resolved.tenant, server: target.server.name, path: new URL(request.url).pathname });
    return rpcError(403, RpcCode.Forbidden, resolved.refusal);
  }
  const principal = resolved;
  if (target.upstream) {
    // Another tenant's upstream of the same name looks exactly like no server at all; no object is created.
    const upstream = await getUpstream(env.DB, principal.tenantId, target.server.name);
    if (!upstream?.enabled) {
      logDenial(upstream ? 'upstream disabled' : 'no such upstream for this tenant', { tenant: principal.tenantId, server: target.server.name });
      return rpcError(404, RpcCode.InvalidRequest, `Unknown server "${target.server.name}"`);
    }
  }
  if (principal.kind === 'api-key') ctx.waitUntil(touchApiKey(env.DB, principal.clientId).catch(() => undefined));

  const length = Number(request.headers.get('content-length') ?? '0');
  if (length > MAX_BODY_BYTES) return rpcError(413, RpcCode.InvalidRequest, `Request body too large: limit is ${MAX_BODY_BYTES} bytes`);

  const headers = new Headers();
  for (const [name, value] of request.headers) {
    const lower = name.toLowerCase();
    if (lower !== 'authorization' && lower !== 'cookie' && !lower.startsWith('x-smcp-')) headers.set(name, value);
  }
  headers.set(PRINCIPAL_HEADER, encodePrincipal(principal));
  const context = requestContext();
  if (context) headers.set(CORRELATION_FORWARD_HEADER, context.correlationId);
  if (context?.ip) headers.set(CLIENT_IP_FORWARD_HEADER, context.ip);
  const forwardCtx = { waitUntil: (p: Promise<unknown>) => ctx.waitUntil(p), passThroughOnException: () => ctx.passThroughOnException(), props: principal } as unknown as ExecutionContext;
  const owner = ownerKey(principal);
  const session = { secret, server: target.server.name, owner, tenant: principal.tenantId };

  const response = target.transport === 'mcp'
    ? await streamable(request, headers, env, forwardCtx, target, session)
    : await legacySse(request, headers, env, forwardCtx, target, session);
  return jsonErrors(response);
}

interface SessionScope {
  tenant: string;
  secret: string;
  server: string;
  owner: string;
}

async function readBody(request: Request): Promise<ArrayBuffer | Response> {
  if (request.method !== 'POST') return new ArrayBuffer(0);
  const body = await request.arrayBuffer();
  return body.byteLength > MAX_BODY_BYTES ? rpcError(413, RpcCode.InvalidRequest, `Request body too large: limit is ${MAX_BODY_BYTES} bytes`) : body;
}

async function streamable(request: Request, headers: Headers, env: Env, ctx: ExecutionContext, target: GateTarget, s: SessionScope): Promise<Response> {
  if (!['POST', 'GET', 'DELETE'].includes(request.method)) {
    return rpcError(405, RpcCode.InvalidRequest, 'Method not allowed: use POST, GET or DELETE', { Allow: 'GET, POST, DELETE' });
  }
  const external = request.headers.get('mcp-session-id');
  if (external === null && request.method !== 'POST') return rpcError(400, RpcCode.ServerError, 'Bad Request: Mcp-Session-Id header is required');
  if (external !== null) {
    const raw = await openSessionId(s.secret, s.server, s.owner, external);
    if (!raw) return notFound(s);
    headers.set('mcp-session-id', raw);
  }
  const body = await readBody(request);
  if (body instanceof Response) return body;
  const forwarded = new Request(request.url, { method: request.method, headers, body: request.method === 'POST' ? body : undefined });
  const response = await frameworkHandler(target).fetch(forwarded, env, ctx);
  const issued = response.headers.get('mcp-session-id');
  if (!issued) return response;
  const sealed = external ?? (await sealSessionId(s.secret, s.server, s.owner, issued));
  const out = new Response(response.body, response);
  out.headers.set('mcp-session-id', sealed);
  return out;
}

async function legacySse(request: Request, headers: Headers, env: Env, ctx: ExecutionContext, target: GateTarget, s: SessionScope): Promise<Response> {
  const url = new URL(request.url);
  const isMessage = url.pathname.endsWith('/message');
  const given = url.searchParams.get('sessionId');
  if (!isMessage) {
    if (request.method !== 'GET') return rpcError(405, RpcCode.InvalidRequest, 'Method not allowed: GET opens an SSE stream', { Allow: 'GET' });
    if (given !== null && !(await openSessionId(s.secret, s.server, s.owner, given))) return notFound(s);
    url.searchParams.set('sessionId', given ?? (await newSessionId(s.secret, s.server, s.owner)));
    return frameworkHandler(target).fetch(new Request(url, { method: 'GET', headers }), env, ctx);
  }
  if (request.method !== 'POST') return rpcError(405, RpcCode.InvalidRequest, 'Method not allowed: POST messages here', { Allow: 'POST' });
  if (!(await openSessionId(s.secret, s.server, s.owner, given))) return notFound(s);
  if (!request.headers.get('content-type')?.includes('application/json')) {
    return rpcError(415, RpcCode.ServerError, 'Unsupported Media Type: Content-Type must be application/json');
  }
  const body = await readBody(request);
  if (body instanceof Response) return body;
  let message: unknown;
  try {
    message = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return rpcError(400, RpcCode.ParseError, 'Parse error: Invalid JSON');
  }
  if (!JSONRPCMessageSchema.safeParse(message).success) return rpcError(400, RpcCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message');
  return frameworkHandler(target).fetch(new Request(url, { method: 'POST', headers, body: JSON.stringify(message) }), env, ctx);
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
