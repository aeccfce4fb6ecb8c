import { handleAdminApi } from './admin/admin-api';
import { handleAuthorize } from './auth/authorize';
import { handleDashboard } from './dashboard/dashboard';
import { refuseForeignOrigin } from './gate/origin-guard';
import { boundedRequest } from './http/bounded-body';
import { preflight, withCors } from './http/cors';
import { STYLESHEET } from './http/html';
import { restError, rpcError, RpcCode } from './http/responses';
import { BINDING_PERIOD_SECONDS, clientIp, restTooMany, rpcTooMany, withinIpRate } from './limits/limits';
import { knownRefusal } from './limits/deny-cache';
import { healthResponse } from './health/health';
import { auditedOAuthEndpoint } from './oauth/oauth-audit';
import { holdUntilFirstUse } from './oauth/client-registration';
import { guardRefresh } from './oauth/refresh-rotation';
import { auditMissingToken, OAUTH_PATHS, oauthSurface, serverNameOf } from './oauth/oauth-surface';
import { authorizationServerMetadata, resourceAt } from './oauth/resource-lookup';

const MCP_ROUTE = /^\/servers\/([^/]+)\/(mcp|sse|sse\/message)$/;
const RESOURCE_METADATA = '/.well-known/oauth-protected-resource';
/** Bodies of the provider's endpoints (client registration, token exchange) are small forms or JSON. */
const MAX_OAUTH_BODY_BYTES = 64 * 1024;

/**
 * The Worker's one router. Every path is matched exactly (no prefix matching, so `/servers/foo`
 * never catches `/servers/foobar/mcp`); anything not listed is a JSON 404. CORS on MCP and
 * resource-metadata routes is the platform's (src/http/cors.ts), never the provider's.
 */
export async function route(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const url = new URL(request.url);
  const path = url.pathname;

  const mcp = MCP_ROUTE.exec(path);
  if (mcp) {
    const [, name, endpoint] = mcp as unknown as [string, string, string];
    // A token this isolate refused for a rate limit is refused again until its window ends, before
    // anything reads D1 or KV, parses the body or calls an object (src/limits/deny-cache.ts).
    const known = request.method === 'OPTIONS' ? undefined : await knownRefusal(request, name);
    if (known) {
      const foreign = refuseForeignOrigin(request, env);
      if (foreign) return withCors(request, env, foreign.response);
      const { holdMs, ...hit } = known;
      const refusal = rpcTooMany(env, ctx, hit); // audited now, even if the client goes away meanwhile
      // A token that keeps hammering is answered later, on a timer: no CPU spent, fewer requests from a closed loop.
      if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
      return withCors(request, env, refusal);
    }
    // Malformed names get a JSON 404 at once; any other unregistered name looks like another tenant's upstream (resource-lookup.ts).
    const resource = await resourceAt(env, name, endpoint === 'mcp' ? 'mcp' : 'sse');
    if (!resource) return rpcError(404, RpcCode.InvalidRequest, `Unknown server "${name}"`);
    const refused = refuseForeignOrigin(request, env);
    if (refused) return refused.response; // logged and audited as a denial by the guard
    if (request.method === 'OPTIONS')
      return preflight(request, env, endpoint === 'mcp' ? 'GET, POST, DELETE, OPTIONS' : endpoint === 'sse' ? 'GET, OPTIONS' : 'POST, OPTIONS');
    const response = await resource.serve(request, url, env, ctx);
    auditMissingToken(request, response, `/servers/${name}/${endpoint === 'mcp' ? 'mcp' : 'sse'}`);
    return withCors(request, env, response);
  }

  if (path.startsWith(`${RESOURCE_METADATA}/servers/`)) {
    const resourcePath = path.slice(RESOURCE_METADATA.length);
    const name = serverNameOf(`${url.origin}${resourcePath}`);
    const transport = resourcePath.endsWith('/sse') ? 'sse' : 'mcp';
    const resource = name ? await resourceAt(env, name, transport) : undefined;
    if (!resource) return restError(404, 'not_found', 'Unknown protected resource');
    if (request.method === 'OPTIONS') return preflight(request, env, 'GET, HEAD, OPTIONS');
    return withCors(request, env, await resource.host.fetch(request, env, ctx));
  }

  switch (path) {
    case '/health':
      return healthResponse(env);
    case OAUTH_PATHS.authorize:
      return handleAuthorize(request, env, ctx);
    case OAUTH_PATHS.token:
    case OAUTH_PATHS.register:
      return oauthEndpoint(request, env, ctx, path === OAUTH_PATHS.token ? 'token' : 'register');
    case '/.well-known/oauth-authorization-server':
      return authorizationServerMetadata(request, env, ctx);
    case '/assets/smcp.css':
      return new Response(STYLESHEET, {
        headers: { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600', 'X-Content-Type-Options': 'nosniff' },
      });
  }

  if (path === '/admin/api' || path.startsWith('/admin/api/')) return handleAdminApi(request, env, path);
  if (path === '/dashboard' || path.startsWith('/dashboard/')) return handleDashboard(request, env, path, ctx);
  return restError(404, 'not_found', `No route for ${path}`);
}

/** `/oauth/token` and `/oauth/register`: per-IP rate limit and a bounded body before the provider sees them; outcomes audited. */
async function oauthEndpoint(request: Request, env: Env, ctx: ExecutionContext, which: 'token' | 'register'): Promise<Response> {
  if (request.method !== 'OPTIONS' && !(await withinIpRate(which === 'token' ? env.RL_IP_TOKEN : env.RL_IP_REGISTER, request))) {
    const message =
      which === 'token' ? 'Too many token requests from this address; retry later' : 'Too many client registrations from this address; retry later';
    return restTooMany(env, ctx, { which: `ip_${which}`, retryAfter: BINDING_PERIOD_SECONDS, message, tenant: null, ip: clientIp(request) });
  }
  const bounded = await boundedRequest(request, MAX_OAUTH_BODY_BYTES);
  if (bounded === 'too_large') return restError(413, 'payload_too_large', `Body limit is ${MAX_OAUTH_BODY_BYTES} bytes`);
  const surface = await oauthSurface(env, which === 'token' ? await tokenResourceName(bounded) : undefined);
  const serve = () => surface.authorizationServer.fetch(bounded, env, ctx);
  return auditedOAuthEndpoint(bounded, env, which === 'register' ? async () => holdUntilFirstUse(env, await serve()) : () => guardRefresh(bounded, env, serve));
}

/** The server a token request's `resource` names, so a just-registered upstream is known to this isolate. */
async function tokenResourceName(request: Request): Promise<string | undefined> {
  if (request.method !== 'POST' || !request.headers.get('content-type')?.includes('application/x-www-form-urlencoded')) return undefined;
  const form = await request
    .clone()
    .formData()
    .catch(() => null);
  const resource = form?.get('resource');
  return typeof resource === 'string' ? serverNameOf(resource) : undefined;
}
