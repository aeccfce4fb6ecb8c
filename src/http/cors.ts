import { allowedOrigins } from '../config';

/**
 * CORS for MCP routes and their protected-resource metadata, decided by the platform rather than
 * the OAuth provider (which answers preflights itself and echoes any Origin). Only allowed origins
 * (the public origin plus `SMCP_ALLOWED_ORIGINS`) get CORS headers, so a browser page from any
 * other origin can neither send credentialed MCP requests nor read the answers. Browser clients
 * such as MCP Inspector need the session, protocol-version and auth-challenge headers exposed.
 */

export const EXPOSED_HEADERS = 'Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate';
// Mcp-Method and Mcp-Name: MCP 2026-07-28 clients mirror the method and name of every request in them.
const ALLOWED_HEADERS = 'Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name, Last-Event-ID';
const CORS_HEADERS = [
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-expose-headers',
  'access-control-max-age',
  'access-control-allow-credentials',
];

/** The request's Origin when it is allowed here, else null (also null when the request has none). */
export function allowedOrigin(request: Request, env: Env): string | null {
  const origin = request.headers.get('origin');
  return origin !== null && allowedOrigins(env).includes(origin) ? origin : null;
}

/**
 * The answer to a preflight for an allowed origin (call it after the origin guard has refused the
 * others); a plain OPTIONS without an Origin just lists the methods.
 */
export function preflight(request: Request, env: Env, methods: string): Response {
  const origin = allowedOrigin(request, env);
  if (!origin) return new Response(null, { status: 204, headers: { Allow: methods, Vary: 'Origin' } });
  return new Response(null, {
    status: 204,
    headers: {
      'Access-Control-Allow-Origin': origin,
      'Access-Control-Allow-Methods': methods,
      'Access-Control-Allow-Headers': ALLOWED_HEADERS,
      'Access-Control-Max-Age': '600',
      Vary: 'Origin',
    },
  });
}

/** Replace whatever CORS headers a response carries with the platform's decision for this request. */
export function withCors(request: Request, env: Env, response: Response): Response {
  const origin = allowedOrigin(request, env);
  const hasCors = CORS_HEADERS.some((h) => response.headers.has(h));
  if (!origin && !hasCors) return response;
  const out = new Response(response.body, response);
  for (const h of CORS_HEADERS) out.headers.delete(h);
  out.headers.append('Vary', 'Origin');
  if (origin) {
    out.headers.set('Access-Control-Allow-Origin', origin);
    out.headers.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
  }
  return out;
}
