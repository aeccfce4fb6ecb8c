import { findServer } from '../servers/registry';
import { handleAdminApi } from './admin/admin-api';
import { handleAuthorize } from './auth/authorize';
import { refuseForeignOrigin } from './gate/origin-guard';
import { STYLESHEET } from './http/html';
import { restError, rpcError, RpcCode } from './http/responses';
import { healthResponse } from './observability/health';
import { auditedOAuthEndpoint } from './oauth/oauth-audit';
import { OAUTH_PATHS, oauthSurface } from './oauth/oauth-surface';

const MCP_ROUTE = /^\/servers\/([^/]+)\/(mcp|sse|sse\/message)$/;
const RESOURCE_METADATA = '/.well-known/oauth-protected-resource';

/**
 * The Worker's one router. Every path is matched exactly (no prefix matching, so `/servers/foo`
 * never catches `/servers/foobar/mcp`); anything not listed is a JSON 404.
 */
export async function route(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const url = new URL(request.url);
  const path = url.pathname;

  const mcp = MCP_ROUTE.exec(path);
  if (mcp) {
    const [, name, endpoint] = mcp as unknown as [string, string, string];
    if (!findServer(name)) return rpcError(404, RpcCode.InvalidRequest, `Unknown server "${name}"`);
    const refused = refuseForeignOrigin(request, env);
    if (refused) return refused;
    const resourcePath = `/servers/${name}/${endpoint === 'mcp' ? 'mcp' : 'sse'}`;
    return oauthSurface(env).resources.get(resourcePath)!.host.fetch(request, env, ctx);
  }

  if (path.startsWith(`${RESOURCE_METADATA}/servers/`)) {
    const resource = oauthSurface(env).resources.get(path.slice(RESOURCE_METADATA.length));
    return resource ? resource.host.fetch(request, env, ctx) : restError(404, 'not_found', 'Unknown protected resource');
  }

  switch (path) {
    case '/health':
      return healthResponse(env);
    case OAUTH_PATHS.authorize:
      return handleAuthorize(request, env);
    case OAUTH_PATHS.token:
    case OAUTH_PATHS.register:
      return auditedOAuthEndpoint(request, env, () => oauthSurface(env).authorizationServer.fetch(request, env, ctx));
    case '/.well-known/oauth-authorization-server':
      return oauthSurface(env).authorizationServer.fetch(request, env, ctx);
    case '/assets/smcp.css':
      return new Response(STYLESHEET, { headers: { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=3600', 'X-Content-Type-Options': 'nosniff' } });
  }

  if (path === '/admin/api' || path.startsWith('/admin/api/')) return handleAdminApi(request, env, path);
  return restError(404, 'not_found', `No route for ${path}`);
}
