import { OAuthAuthorizationServer, OAuthResourceServer } from '@cloudflare/workers-oauth-provider';
import { findServer, SERVERS } from '../../servers/registry';
import { publicOrigin } from '../config';
import { gateMcpRequest, type GateTarget } from '../gate/mcp-gate';
import type { GrantProps, KeyProps } from '../gate/principal-resolver';
import { recordDenial } from '../audit/record';
import { onTokenExchange } from './grant-access';
import { registrationProblem } from './client-registration';
import { tenantDefinedNames, upstreamEntry } from '../tenancy/server-names';
import { API_KEY_PREFIX } from '../tenancy/api-keys';
import { apiKeyBearer, validateApiKey } from './api-key-bearer';

/** The one scope clients request; roles, not scopes, decide what a caller may do. */
export const MCP_SCOPE = 'mcp';

/** Paths of the OAuth endpoints the platform advertises. */
export const OAUTH_PATHS = { authorize: '/authorize', token: '/oauth/token', register: '/oauth/register' } as const;

/** The authorization server and one protected resource per MCP endpoint of every hosted server. */
export interface OAuthSurface {
  authorizationServer: OAuthAuthorizationServer<Env>;
  /** Keyed by resource path, e.g. `/servers/notes/mcp`. */
  resources: Map<string, ResourceEntry>;
}

/**
 * One protected resource (an MCP endpoint). `host` is the provider's resource server for it (RFC
 * 9728 metadata, bearer validation, the gate); `serve` is what its MCP route calls: `host`, with
 * valid API keys handed to the gate directly (`resourceEntry`).
 */
export interface ResourceEntry {
  target: GateTarget;
  resource: string;
  host: OAuthResourceServer<Env, GrantProps | KeyProps>;
  serve(request: Request, url: URL, env: Env, ctx: ExecutionContext): Promise<Response>;
}

interface CachedSurface {
  surface: OAuthSurface;
  names: string[];
  loadedAt: number;
}

const surfaces = new Map<string, CachedSurface>();

/** How long an isolate trusts its list of upstream names before re-reading it (new names force a re-read). */
const NAMES_TTL_MS = 10_000;

/**
 * The OAuth surface for the current set of servers: hosted servers from the registry plus every
 * tenant-defined name: upstreams and deployed modules (src/tenancy/server-names.ts), each its own
 * protected resource, so audience binding holds for them too. The provider fixes its resource list at construction, so the surface is
 * rebuilt when the set of upstream names changes: at most every few seconds, or at once when a
 * request names an upstream this isolate has not seen (`need`).
 */
export async function oauthSurface(env: Env, need?: string): Promise<OAuthSurface> {
  const origin = publicOrigin(env);
  const cached = surfaces.get(origin);
  const fresh = cached && Date.now() - cached.loadedAt < NAMES_TTL_MS;
  const missing = need !== undefined && !findServer(need) && !cached?.names.includes(need);
  if (cached && fresh && !missing) return cached.surface;
  const names = await tenantDefinedNames(env.DB).catch(() => cached?.names ?? []);
  if (cached && names.join('\n') === cached.names.join('\n')) {
    cached.loadedAt = Date.now();
    return cached.surface;
  }
  const surface = buildSurface(origin, names);
  surfaces.set(origin, { surface, names, loadedAt: Date.now() });
  return surface;
}

const BEARER = /^Bearer\s+\S+$/i;

/**
 * The provider answers a request without a bearer token (no `Authorization`, or another scheme)
 * with 401 before any token validation runs, so nothing else records it: audit that refusal here,
 * once (tenant unknown, resource = the endpoint). Bad and foreign tokens are audited by
 * `validateToken` below.
 */
export function auditMissingToken(request: Request, response: Response, resourcePath: string): void {
  if (response.status !== 401 || BEARER.test(request.headers.get('authorization') ?? '')) return;
  void recordDenial('no access token', { path: resourcePath, action: 'auth.token' });
}

/** The server name a resource URL (`<origin>/servers/<name>/<transport>`) points at, if any. */
export function serverNameOf(resource: string | null | undefined): string | undefined {
  if (!resource) return undefined;
  try {
    return /^\/servers\/([^/]+)\/(mcp|sse)$/.exec(new URL(resource).pathname)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Build the surface: each server's Streamable HTTP and SSE endpoints are separate protected
 * resources, so a token is bound to exactly one of them and refused everywhere else (RFC 8707
 * audiences, checked by the provider before the gate runs).
 */
export function buildSurface(origin: string, upstreams: string[]): OAuthSurface {
  const entries = [
    ...SERVERS.map((server) => ({ server, upstream: false })),
    ...upstreams.filter((n) => !findServer(n)).map((n) => ({ server: upstreamEntry(n), upstream: true })),
  ];
  const targets: GateTarget[] = entries.flatMap(({ server, upstream }) => [
    { server, transport: 'mcp' as const, upstream },
    { server, transport: 'sse' as const, upstream },
  ]);
  const resourceUrl = (t: GateTarget) => `${origin}/servers/${t.server.name}/${t.transport}`;

  const authorizationServer = new OAuthAuthorizationServer<Env>({
    issuer: origin,
    resources: targets.map(resourceUrl),
    authorizeEndpoint: OAUTH_PATHS.authorize,
    tokenEndpoint: OAUTH_PATHS.token,
    clientRegistrationEndpoint: OAUTH_PATHS.register,
    scopesSupported: [MCP_SCOPE],
    // Client ID Metadata Documents (MCP 2026-07-28): an HTTPS client_id whose document the provider
    // fetches (public addresses only: the global_fetch_strictly_public flag), beside dynamic registration.
    clientIdMetadataDocumentEnabled: true,
    tokenExchangeCallback: onTokenExchange,
    clientRegistrationCallback: ({ clientMetadata }) => {
      const problem = registrationProblem(clientMetadata);
      return problem ? { description: problem } : undefined;
    },
  });

  const resources: OAuthSurface['resources'] = new Map();
  for (const target of targets) {
    const entry = resourceEntry(authorizationServer, origin, target);
    resources.set(new URL(entry.resource).pathname, entry);
  }

  return { authorizationServer, resources };
}

/**
 * One protected resource: its RFC 9728 metadata, token validation (OAuth access tokens bound to
 * exactly this resource, or API keys) and the gate. Also used for stand-ins of unregistered names
 * (resource-lookup.ts), for which the provider knows no resource and so no OAuth token validates.
 */
export function resourceEntry(authorizationServer: OAuthAuthorizationServer<Env>, origin: string, target: GateTarget): ResourceEntry {
  const resource = `${origin}/servers/${target.server.name}/${target.transport}`;
  /** Requests whose API key `serve` already refused (and audited): the provider answers them without a second lookup or record. */
  const refusedKeys = new WeakSet<Request>();
  const host = new OAuthResourceServer<Env, GrantProps | KeyProps>({
    resourceMetadata: {
      resource,
      authorization_servers: [origin],
      bearer_methods_supported: ['header'],
      resource_name: `${target.upstream ? `Tenant server ${target.server.name}` : target.server.title} (${target.transport === 'mcp' ? 'Streamable HTTP' : 'SSE'})`,
    },
    requiredScopes: [MCP_SCOPE],
    validateToken: (env, request) => async (res, token) => {
      if (token.startsWith(API_KEY_PREFIX)) return refusedKeys.has(request) ? null : validateApiKey(env, target, res, token);
      const validated = await authorizationServer.validateToken<GrantProps>(res, token, env).catch((error: unknown) => {
        if (error instanceof TypeError) return null; // a resource the provider does not know (a stand-in): no token is bound to it
        throw error;
      });
      if (!validated) recordDenial('unknown, expired or revoked access token', { path: new URL(res).pathname, action: 'auth.token' });
      return validated;
    },
    handler: {
      fetch: (request, env, ctx) => gateMcpRequest(request, env, ctx, target, ctx.props, ctx.auth.clientId ?? 'unknown-client'),
    },
  });
  const resourceOrigin = new URL(resource).origin;
  /**
   * A request that presents a valid API key on this resource's own origin goes to the gate with the
   * key's props, as the provider would hand them over, without the provider's per-request resource
   * checks (by profile a twentieth of the session lane's CPU). Everything else, and a key that does
   * not verify, goes through the provider: OAuth tokens, other origins, missing or malformed
   * tokens, and the 401 challenge of a refused key (its refusal audited once, here).
   */
  const serve = async (request: Request, url: URL, env: Env, ctx: ExecutionContext): Promise<Response> => {
    const token = url.origin === resourceOrigin ? apiKeyBearer(request.headers.get('authorization')) : null;
    if (token === null) return host.fetch(request, env, ctx);
    const validation = await validateApiKey(env, target, resource, token);
    if (!validation) {
      refusedKeys.add(request);
      return host.fetch(request, env, ctx);
    }
    return gateMcpRequest(request, env, ctx, target, validation.props, validation.clientId);
  };
  return { target, resource, host, serve };
}
