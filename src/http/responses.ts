/**
 * The two error shapes of the platform, so every surface answers bad input the same way:
 * REST routes get `{ "error": { "code", "message" } }`, MCP routes get a JSON-RPC error object.
 */

/** JSON-RPC error codes the platform uses on MCP routes (the -32000..-32099 range is server-defined). */
export const RpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32603,
  ServerError: -32000,
  SessionNotFound: -32001,
  Forbidden: -32003,
} as const;

/** A JSON response with the platform's default headers (no caching, no sniffing). */
export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  const h = new Headers(headers);
  h.set('Content-Type', 'application/json; charset=utf-8');
  h.set('Cache-Control', 'no-store');
  h.set('X-Content-Type-Options', 'nosniff');
  return new Response(JSON.stringify(body), { status, headers: h });
}

/** The REST error shape: a stable machine code and a human message that never echoes secrets. */
export function restError(status: number, code: string, message: string, headers: HeadersInit = {}): Response {
  return json({ error: { code, message } }, status, headers);
}

/** The MCP-route error shape: a JSON-RPC error object with `id: null` (the request id is unknown here). */
export function rpcError(status: number, code: number, message: string, headers: HeadersInit = {}): Response {
  return json({ jsonrpc: '2.0', id: null, error: { code, message } }, status, headers);
}
