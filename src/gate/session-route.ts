import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { rpcError, RpcCode } from '../http/responses';
import type { JsonRpcMessage } from './jsonrpc-validation';

/**
 * The direct route from the gate into a 2025-era Streamable HTTP session: one `fetch` to the
 * session's Durable Object, which serves the request itself (src/hosted/session-http.ts) and
 * streams its answer back. It replaces `McpAgent.serve` (agents 0.32), which for every POST made
 * an RPC to start the object, another to read its stored initialize request, and a WebSocket into
 * it, then bridged the answer back frame by frame.
 *
 * Objects keep the framework's names (`streamable-http:<id>`, the id a new unique Durable Object
 * id as the framework made it), so session slots, the dashboard's Sessions page, eviction and the
 * framework's own teardown address them as before. The legacy HTTP+SSE transport is not served
 * here: it stays on the framework's handler (`McpAgent.serveSSE`).
 */

/** Durable Object name of a Streamable HTTP session. */
export const sessionObjectName = (rawId: string) => `streamable-http:${rawId}`;

/** A fresh raw session id for an `initialize`, minted like the framework did (a new unique object id). */
export function newRawSessionId(env: Env, binding: string): string {
  return namespaceOf(env, binding).newUniqueId().toString();
}

/** The gate's one call into the session object. */
export function fetchSession(env: Env, binding: string, rawId: string, request: Request): Promise<Response> {
  const namespace = namespaceOf(env, binding);
  return namespace.get(namespace.idFromName(sessionObjectName(rawId))).fetch(request);
}

function namespaceOf(env: Env, binding: string): DurableObjectNamespace {
  const namespace = (env as unknown as Record<string, unknown>)[binding] as DurableObjectNamespace | undefined;
  if (!namespace || typeof namespace.idFromName !== 'function') throw new Error(`No session binding ${binding}`);
  return namespace;
}

const badRequest = (code: number, message: string) => rpcError(400, code, message);

/**
 * The transport checks the framework's Worker-side handler made before it touched an object, kept
 * in the same order and wording and, as before, after admission (a client over its limit is told
 * so whatever it sent), so a malformed request wakes no object: Accept, initialize without a
 * session id and alone, a session id on every other request, and a supported
 * `Mcp-Protocol-Version` after initialize. Undefined when the request may go on.
 */
export function sessionTransportRefusal(request: Request, messages: JsonRpcMessage[], sessionId: string | null): Response | undefined {
  const accept = request.headers.get('accept') ?? '';
  if (request.method === 'POST') {
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) {
      return rpcError(406, RpcCode.ServerError, 'Not Acceptable: Client must accept both application/json and text/event-stream');
    }
    const initializing = messages.some((m) => 'method' in m && m.method === 'initialize');
    if (initializing && sessionId !== null) return badRequest(RpcCode.InvalidRequest, 'Invalid Request: Initialization requests must not include a sessionId');
    if (initializing && messages.length > 1) return badRequest(RpcCode.InvalidRequest, 'Invalid Request: Only one initialization request is allowed');
    if (initializing) return undefined;
  } else if (request.method === 'GET' && !accept.includes('text/event-stream')) {
    return rpcError(406, RpcCode.ServerError, 'Not Acceptable: Client must accept text/event-stream');
  }
  const version = request.headers.get('mcp-protocol-version');
  if (version !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
    return badRequest(
      RpcCode.ServerError,
      `Bad Request: Unsupported protocol version: ${version} (supported versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
    );
  }
  if (sessionId === null) return badRequest(RpcCode.ServerError, 'Bad Request: Mcp-Session-Id header is required');
  return undefined;
}
