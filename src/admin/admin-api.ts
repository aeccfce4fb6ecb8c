import { restError } from '../http/responses';
import { logDenial } from '../observability/log';
import type { Tenant } from '../tenancy/model';
import { getTenant } from '../tenancy/tenant-store';
import { authenticateAdmin, canActOn, type Actor } from './admin-auth';
import { createKeyRoute, listKeysRoute, revokeKeyRoute, rotateKeyRoute } from './key-routes';
import { createTenantRoute, deleteTenantRoute, getTenantRoute, listTenantsRoute, patchTenantRoute, tenantIdFrom } from './tenant-routes';
import { rotateSecretsRoute } from './secret-routes';
import { approveUpstreamRoute, createUpstreamRoute, deleteUpstreamRoute, getUpstreamRoute, listUpstreamsRoute, patchUpstreamRoute } from './upstream-routes';
import { createUserRoute, deleteUserRoute, listUsersRoute, patchUserRoute } from './user-routes';

type Handler = (request: Request, env: Env, actor: Actor, tenant: Tenant, id: string) => Promise<Response>;

/** Routes under `/admin/api/tenants/<tenant>`, keyed by the rest of the path's shape and method. */
const TENANT_ROUTES: Array<[method: string, pattern: RegExp, handler: Handler]> = [
  ['GET', /^$/, (_r, _env, _a, t) => getTenantRoute(t)],
  ['PATCH', /^$/, (r, env, a, t) => patchTenantRoute(r, env, a, t)],
  ['DELETE', /^$/, (_r, env, a, t) => deleteTenantRoute(env, a, t.id)],
  ['POST', /^\/users$/, (r, env, a, t) => createUserRoute(r, env, a, t.id)],
  ['GET', /^\/users$/, (_r, env, _a, t) => listUsersRoute(env, t.id)],
  ['PATCH', /^\/users\/([^/]+)$/, (r, env, a, t, id) => patchUserRoute(r, env, a, t.id, id)],
  ['DELETE', /^\/users\/([^/]+)$/, (_r, env, a, t, id) => deleteUserRoute(env, a, t.id, id)],
  ['POST', /^\/keys$/, (r, env, a, t) => createKeyRoute(r, env, a, t.id)],
  ['GET', /^\/keys$/, (_r, env, _a, t) => listKeysRoute(env, t.id)],
  ['DELETE', /^\/keys\/([^/]+)$/, (_r, env, a, t, id) => revokeKeyRoute(env, a, t.id, id)],
  ['POST', /^\/keys\/([^/]+)\/rotate$/, (r, env, a, t, id) => rotateKeyRoute(r, env, a, t.id, id)],
  ['POST', /^\/upstreams$/, (r, env, a, t) => createUpstreamRoute(r, env, a, t.id)],
  ['GET', /^\/upstreams$/, (_r, env, _a, t) => listUpstreamsRoute(env, t.id)],
  ['GET', /^\/upstreams\/([^/]+)$/, (_r, env, _a, t, name) => getUpstreamRoute(env, t.id, name)],
  ['PATCH', /^\/upstreams\/([^/]+)$/, (r, env, a, t, name) => patchUpstreamRoute(r, env, a, t.id, name)],
  ['DELETE', /^\/upstreams\/([^/]+)$/, (_r, env, a, t, name) => deleteUpstreamRoute(env, a, t.id, name)],
  ['POST', /^\/upstreams\/([^/]+)\/approve$/, (_r, env, a, t, name) => approveUpstreamRoute(env, a, t.id, name)],
];

const notFound = () => restError(404, 'not_found', 'Not found');

/**
 * The admin REST API. The operator may act on every tenant; a tenant admin (API key with role
 * admin) only on its own, and any other tenant looks exactly like one that does not exist.
 */
export async function handleAdminApi(request: Request, env: Env, path: string): Promise<Response> {
  const actor = await authenticateAdmin(request, env);
  if (actor instanceof Response) return actor;

  if (path === '/admin/api/tenants') {
    if (request.method === 'POST') return createTenantRoute(request, env, actor);
    if (request.method === 'GET') return listTenantsRoute(env, actor);
    return restError(405, 'method_not_allowed', 'Use GET or POST', { Allow: 'GET, POST' });
  }
  if (path === '/admin/api/secrets/rotate') {
    return request.method === 'POST' ? rotateSecretsRoute(env, actor) : restError(405, 'method_not_allowed', 'Use POST', { Allow: 'POST' });
  }
  const match = /^\/admin\/api\/tenants\/([^/]+)(\/.*)?$/.exec(path);
  if (!match) return notFound();
  const tenantId = tenantIdFrom(match[1]!);
  const rest = match[2] ?? '';
  const routes = TENANT_ROUTES.filter(([, pattern]) => pattern.test(rest));
  if (routes.length === 0) return notFound();
  if (!tenantId || !canActOn(actor, tenantId)) {
    if (tenantId) logDenial('tenant admin outside its tenant', { tenant: actor.kind === 'tenant-admin' ? actor.tenantId : undefined, path });
    return restError(404, 'not_found', 'Tenant not found');
  }
  const route = routes.find(([method]) => method === request.method);
  if (!route) return restError(405, 'method_not_allowed', `Use ${routes.map(([m]) => m).join(' or ')}`, { Allow: routes.map(([m]) => m).join(', ') });
  const tenant = await getTenant(env.DB, tenantId);
  if (!tenant) return restError(404, 'not_found', 'Tenant not found');
  const [, pattern, handler] = route;
  return handler(request, env, actor, tenant, pattern.exec(rest)?.[1] ?? '');
}
