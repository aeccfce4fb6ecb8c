import { OAuthAuthorizationServer, OAuthResourceServer } from '@cloudflare/workers-oauth-provider';
import { findServer, SERVERS } from '../../servers/registry';
import { publicOrigin } from '../config';
import { gateMcpRequest, type GateTarget } from '../gate/mcp-gate';
import { keyProps, type GrantProps, type KeyProps } from '../gate/principal-resolver';
import { recordDenial } from '../audit/record';
import { onTokenExchange } from './grant-access';
import { registrationProblem } from './client-registration';
import { verifyApiKeyForMcp } from '../tenancy/api-keys';
import { tenantDefinedNames, tenantDefinedQuery, upstreamEntry } from '../tenancy/server-names';

/** The one scope clients request; roles, not scopes, decide what a caller may do. */
export const MCP_SCOPE = 'mcp';

/** Paths of the OAuth endpoints the platform advertises. */
export const OAUTH_PATHS = { authorize: '/authorize', token: '/oauth/token', register: '/oauth/register' } as const;

/** The authorization server and one protected resource per MCP endpoint of every hosted server. */
export interface OAuthSurface {
  authorizationServer: OAuthAuthorizationServer<Env>;
  /** Keyed by resource path, e.g. `/servers/notes/mcp`. */
  resources: Map<string, { target: GateTarget; resource: string; host: OAuthResourceServer<Env, GrantProps> }>;
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

type ResourceEntry = OAuthSurface['resources'] extends Map<string, infer E> ? E : never;

/**
 * One protected resource: its RFC 9728 metadata, token validation (OAuth access tokens bound to
 * exactly this resource, or API keys) and the gate. Also used for stand-ins of unregistered names
 * (resource-lookup.ts), for which the provider knows no resource and so no OAuth token validates.
 */
export function resourceEntry(authorizationServer: OAuthAuthorizationServer<Env>, origin: string, target: GateTarget): ResourceEntry {
  const resource = `${origin}/servers/${target.server.name}/${target.transport}`;
  const host = new OAuthResourceServer<Env, GrantProps | KeyProps>({
    resourceMetadata: {
      resource,
      authorization_servers: [origin],
      bearer_methods_supported: ['header'],
      resource_name: `${target.upstream ? `Tenant server ${target.server.name}` : target.server.title} (${target.transport === 'mcp' ? 'Streamable HTTP' : 'SSE'})`,
    },
    requiredScopes: [MCP_SCOPE],
    validateToken: (env) => async (res, token) => {
      if (!token.startsWith('smcp_')) {
        const validated = await authorizationServer.validateToken<GrantProps>(res, token, env).catch((error: unknown) => {
          if (error instanceof TypeError) return null; // a resource the provider does not know (a stand-in): no token is bound to it
          throw error;
        });
        if (!validated) recordDenial('unknown, expired or revoked access token', { path: new URL(res).pathname, action: 'auth.token' });
        return validated;
      }
      // API keys are tenant credentials, not bound to one resource: the gate checks the server is enabled.
      // For a tenant-defined name, what it is for the key's tenant is read in the same D1 round trip.
      const name = target.server.name;
      const verified = await verifyApiKeyForMcp(
        env.DB,
        token,
        undefined,
        target.upstream ? (tenantId) => tenantDefinedQuery(env.DB, tenantId, name) : undefined,
      );
      if ('refusal' in verified) {
        recordDenial(`api key ${verified.refusal}`, { path: new URL(res).pathname, action: 'auth.api_key' });
        return null;
      }
      const { key, tenant, alongside } = verified;
      const props: KeyProps = keyProps({ kind: 'api-key', tenantId: key.tenantId, keyId: key.id, role: key.role, tenant, definedRow: alongside });
      return { props, audience: res, clientId: key.id };
    },
    handler: {
      fetch: (request, env, ctx) => gateMcpRequest(request, env, ctx, target, ctx.props, ctx.auth.clientId ?? 'unknown-client'),
    },
  });
  return { target, resource, host };
}
