import { OAuthAuthorizationServer, OAuthResourceServer } from '@cloudflare/workers-oauth-provider';
import { SERVERS } from '../../servers/registry';
import { publicOrigin } from '../config';
import { gateMcpRequest, type GateTarget } from '../gate/mcp-gate';
import type { GrantProps, KeyProps } from '../gate/principal-resolver';
import { logDenial } from '../observability/log';
import { noteTokenSubject } from './oauth-audit';
import { verifyApiKey } from '../tenancy/api-keys';

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

const surfaces = new Map<string, OAuthSurface>();

/**
 * Build (once per isolate and origin) the OAuth surface: each hosted server's Streamable HTTP and
 * SSE endpoints are separate protected resources, so a token is bound to exactly one of them and
 * refused everywhere else (RFC 8707 audiences, checked by the provider before the gate runs).
 */
export function oauthSurface(env: Env): OAuthSurface {
  const origin = publicOrigin(env);
  const cached = surfaces.get(origin);
  if (cached) return cached;

  const targets: GateTarget[] = SERVERS.flatMap((server) => [
    { server, transport: 'mcp' as const },
    { server, transport: 'sse' as const },
  ]);
  const resourceUrl = (t: GateTarget) => `${origin}/servers/${t.server.name}/${t.transport}`;

  const authorizationServer = new OAuthAuthorizationServer<Env>({
    issuer: origin,
    resources: targets.map(resourceUrl),
    authorizeEndpoint: OAUTH_PATHS.authorize,
    tokenEndpoint: OAUTH_PATHS.token,
    clientRegistrationEndpoint: OAUTH_PATHS.register,
    scopesSupported: [MCP_SCOPE],
    tokenExchangeCallback: ({ props }) => noteTokenSubject(props),
  });

  const resources: OAuthSurface['resources'] = new Map();
  for (const target of targets) {
    const resource = resourceUrl(target);
    const host = new OAuthResourceServer<Env, GrantProps | KeyProps>({
      resourceMetadata: {
        resource,
        authorization_servers: [origin],
        bearer_methods_supported: ['header'],
        resource_name: `${target.server.title} (${target.transport === 'mcp' ? 'Streamable HTTP' : 'SSE'})`,
      },
      requiredScopes: [MCP_SCOPE],
      validateToken: (env) => async (res, token) => {
        if (!token.startsWith('smcp_')) {
          const validated = await authorizationServer.validateToken<GrantProps>(res, token, env);
          if (!validated) logDenial('unknown, expired or revoked access token', { path: new URL(res).pathname, action: 'auth.token' });
          return validated;
        }
        // API keys are tenant credentials, not bound to one resource: the gate checks the server is enabled.
        const verified = await verifyApiKey(env.DB, token);
        if ('refusal' in verified) {
          logDenial(`api key ${verified.refusal}`, { path: new URL(res).pathname, action: 'auth.api_key' });
          return null;
        }
        const { key, tenant } = verified;
        return { props: { kind: 'api-key' as const, tenantId: key.tenantId, keyId: key.id, role: key.role, tenant }, audience: res, clientId: key.id };
      },
      handler: {
        fetch: (request, env, ctx) => gateMcpRequest(request, env, ctx, target, ctx.props, ctx.auth.clientId ?? 'unknown-client'),
      },
    });
    resources.set(new URL(resource).pathname, { target, resource, host });
  }

  const surface = { authorizationServer, resources };
  surfaces.set(origin, surface);
  return surface;
}
