import { findServer, SERVER_NAME_PATTERN } from '../../servers/registry';
import { publicOrigin } from '../config';
import { tenantDefinedNameExists, upstreamEntry } from '../tenancy/server-names';
import { buildSurface, oauthSurface, resourceEntry, type ResourceEntry } from './oauth-surface';
import type { OAuthAuthorizationServer } from '@cloudflare/workers-oauth-provider';

/** Stand-ins built recently, so a burst of requests for one unregistered name builds it once. */
const standIns = new Map<string, ResourceEntry>();
const MAX_STAND_INS = 256;

/**
 * The protected resource at `/servers/<name>/<transport>`, as every route that names one must see
 * it (MCP endpoints and RFC 9728 metadata). A hosted server or a registered upstream is the real
 * resource. Any other well-formed name gets a stand-in that behaves exactly like another tenant's
 * server (upstream or deployed module): same metadata shape, 401 with the same challenge without a valid token (no OAuth token
 * can be bound to it), and the gate's 404 for an API key whose tenant has no such upstream. So no
 * answer tells an outsider which upstream names some tenant registered. Undefined only for a name
 * no server can have.
 */
export async function resourceAt(env: Env, name: string, transport: 'mcp' | 'sse'): Promise<ResourceEntry | undefined> {
  if (!SERVER_NAME_PATTERN.test(name)) return undefined;
  const path = `/servers/${name}/${transport}`;
  const known = findServer(name) !== undefined || (await tenantDefinedNameExists(env.DB, name));
  // Unregistered names do not force the surface to re-read every upstream name (that would let
  // anyone make each request list the whole table).
  const surface = await oauthSurface(env, known ? name : undefined);
  const real = surface.resources.get(path);
  if (real) return real;
  const key = `${publicOrigin(env)}${path}`;
  let standIn = standIns.get(key);
  if (!standIn) {
    if (standIns.size >= MAX_STAND_INS) standIns.clear();
    standIn = resourceEntry(surface.authorizationServer, publicOrigin(env), { server: upstreamEntry(name), transport, upstream: true });
    standIns.set(key, standIn);
  }
  return standIn;
}

/**
 * RFC 8414 metadata without the list of every tenant's upstream resources the provider adds
 * (`protected_resources`): only hosted servers, which are the same for everyone, are listed.
 */
export async function authorizationServerMetadata(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const response = await (await oauthSurface(env)).authorizationServer.fetch(request, env, ctx);
  if (request.method !== 'GET' || response.status !== 200) return response;
  const metadata = (await response
    .clone()
    .json()
    .catch(() => null)) as { protected_resources?: unknown } | null;
  if (!metadata || !Array.isArray(metadata.protected_resources)) return response;
  metadata.protected_resources = metadata.protected_resources.filter(
    (r) => typeof r === 'string' && /^\/servers\/([^/]+)\//.test(new URL(r).pathname) && findServer(new URL(r).pathname.split('/')[2]!) !== undefined,
  );
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  return new Response(JSON.stringify(metadata), { status: 200, headers });
}

/** Authorization servers that also accept one unregistered name as a resource, by origin and name. */
const standInServers = new Map<string, OAuthAuthorizationServer<Env>>();

/**
 * The authorization server `/authorize` parses a request with. When the request names an
 * unregistered (well-formed) server name, the provider would refuse it at once with
 * `invalid_target` while a registered upstream gets the sign-in page: an oracle for upstream names.
 * So such a name gets an authorization server that also declares it; the request then meets the
 * sign-in page, and after sign-in the same "not available" refusal as another tenant's upstream
 * (no tenant offers it). No grant can be completed for it.
 */
export async function authorizationServerFor(env: Env, name: string | undefined): Promise<OAuthAuthorizationServer<Env>> {
  if (!name || !SERVER_NAME_PATTERN.test(name) || findServer(name) || (await tenantDefinedNameExists(env.DB, name))) {
    return (await oauthSurface(env, name)).authorizationServer;
  }
  const origin = publicOrigin(env);
  const key = `${origin}\n${name}`;
  let server = standInServers.get(key);
  if (!server) {
    if (standInServers.size >= MAX_STAND_INS) standInServers.clear();
    server = buildSurface(origin, [name]).authorizationServer;
    standInServers.set(key, server);
  }
  return server;
}
