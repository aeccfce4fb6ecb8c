import { recordAudit, recordDenial } from '../audit/record';
import { restError } from '../http/responses';
import type { Tenant } from '../tenancy/model';
import { getTenant } from '../tenancy/tenant-store';
import { authenticateAdmin, canActOn, type Actor } from './admin-auth';
import { getExportRoute, listExportsRoute, migrateAuditRoute, platformExportsRoute } from './audit-export-routes';
import { getRetentionRoute, platformAuditRoute, platformMetricsRoute, putRetentionRoute, tenantAuditRoute, tenantMetricsRoute } from './audit-routes';
import { createKeyRoute, listKeysRoute, patchKeyRoute, revokeKeyRoute, rotateKeyRoute } from './key-routes';
import { createTenantRoute, deleteTenantRoute, getTenantRoute, listTenantsRoute, patchTenantRoute, tenantIdFrom } from './tenant-routes';
import { rotateSecretsRoute } from './secret-routes';
import { approveUpstreamRoute, createUpstreamRoute, deleteUpstreamRoute, getUpstreamRoute, listUpstreamsRoute, patchUpstreamRoute } from './upstream-routes';
import { deleteServerRoute, deployServerRoute, getServerRoute, listServersRoute, listVersionsRoute, rollbackServerRoute } from './tenant-server-routes';
import { createAlertRoute, deleteAlertRoute, evaluateAlertsRoute, getAlertRoute, listAlertsRoute, patchAlertRoute } from '../alerts/alert-routes';
import { createUserRoute, deleteUserRoute, listUsersRoute, patchUserRoute } from './user-routes';

type Handler = (request: Request, env: Env, actor: Actor, tenant: Tenant, id: string) => Promise<Response>;

/** Routes under `/admin/api/tenants/<tenant>`, keyed by the rest of the path's shape and method; changes name their audit action. */
const TENANT_ROUTES: Array<[method: string, pattern: RegExp, handler: Handler, action?: string]> = [
  ['GET', /^$/, (_r, _env, _a, t) => getTenantRoute(t)],
  ['PATCH', /^$/, (r, env, a, t) => patchTenantRoute(r, env, a, t), 'admin.tenant.update'],
  ['DELETE', /^$/, (_r, env, a, t) => deleteTenantRoute(env, a, t.id), 'admin.tenant.delete'],
  ['POST', /^\/users$/, (r, env, a, t) => createUserRoute(r, env, a, t.id), 'admin.user.create'],
  ['GET', /^\/users$/, (_r, env, _a, t) => listUsersRoute(env, t.id)],
  ['PATCH', /^\/users\/([^/]+)$/, (r, env, a, t, id) => patchUserRoute(r, env, a, t.id, id), 'admin.user.update'],
  ['DELETE', /^\/users\/([^/]+)$/, (_r, env, a, t, id) => deleteUserRoute(env, a, t.id, id), 'admin.user.delete'],
  ['POST', /^\/keys$/, (r, env, a, t) => createKeyRoute(r, env, a, t.id), 'admin.key.create'],
  ['GET', /^\/keys$/, (_r, env, _a, t) => listKeysRoute(env, t.id)],
  ['DELETE', /^\/keys\/([^/]+)$/, (_r, env, a, t, id) => revokeKeyRoute(env, a, t.id, id), 'admin.key.revoke'],
  ['PATCH', /^\/keys\/([^/]+)$/, (r, env, a, t, id) => patchKeyRoute(r, env, a, t.id, id), 'admin.key.limits'],
  ['POST', /^\/keys\/([^/]+)\/rotate$/, (r, env, a, t, id) => rotateKeyRoute(r, env, a, t.id, id), 'admin.key.rotate'],
  ['GET', /^\/audit$/, (r, env, _a, t) => tenantAuditRoute(r, env, t)],
  ['GET', /^\/audit\/exports$/, (_r, env, _a, t) => listExportsRoute(env, t)],
  ['GET', /^\/audit\/exports\/([^/]+)$/, (_r, env, _a, t, date) => getExportRoute(env, t, date)],
  ['GET', /^\/audit\/retention$/, (_r, env, _a, t) => getRetentionRoute(env, t)],
  ['PUT', /^\/audit\/retention$/, (r, env, _a, t) => putRetentionRoute(r, env, t), 'admin.audit_retention.update'],
  ['GET', /^\/metrics$/, (r, env, _a, t) => tenantMetricsRoute(r, env, t)],
  ['POST', /^\/upstreams$/, (r, env, a, t) => createUpstreamRoute(r, env, a, t.id), 'admin.upstream.create'],
  ['GET', /^\/upstreams$/, (_r, env, _a, t) => listUpstreamsRoute(env, t.id)],
  ['GET', /^\/upstreams\/([^/]+)$/, (_r, env, _a, t, name) => getUpstreamRoute(env, t.id, name)],
  ['PATCH', /^\/upstreams\/([^/]+)$/, (r, env, a, t, name) => patchUpstreamRoute(r, env, a, t.id, name), 'admin.upstream.update'],
  ['DELETE', /^\/upstreams\/([^/]+)$/, (_r, env, a, t, name) => deleteUpstreamRoute(env, a, t.id, name), 'admin.upstream.delete'],
  ['POST', /^\/upstreams\/([^/]+)\/approve$/, (_r, env, a, t, name) => approveUpstreamRoute(env, a, t.id, name), 'admin.upstream.approve'],
  ['POST', /^\/alerts$/, (r, env, _a, t) => createAlertRoute(r, env, t.id), 'admin.alert.create'],
  ['GET', /^\/alerts$/, (_r, env, _a, t) => listAlertsRoute(env, t.id)],
  ['POST', /^\/alerts\/evaluate$/, (_r, env, _a, t) => evaluateAlertsRoute(env, t.id), 'admin.alert.evaluate'],
  ['GET', /^\/alerts\/(al_[0-9a-f]{16})$/, (_r, env, _a, t, id) => getAlertRoute(env, t.id, id)],
  ['PATCH', /^\/alerts\/(al_[0-9a-f]{16})$/, (r, env, _a, t, id) => patchAlertRoute(r, env, t.id, id), 'admin.alert.update'],
  ['DELETE', /^\/alerts\/(al_[0-9a-f]{16})$/, (_r, env, _a, t, id) => deleteAlertRoute(env, t.id, id), 'admin.alert.delete'],
  ['PUT', /^\/servers\/([^/]+)$/, (r, env, _a, t, name) => deployServerRoute(r, env, t.id, name), 'admin.tenant_server.deploy'],
  ['GET', /^\/servers$/, (_r, env, _a, t) => listServersRoute(env, t.id)],
  ['GET', /^\/servers\/([^/]+)$/, (_r, env, _a, t, name) => getServerRoute(env, t.id, name)],
  ['DELETE', /^\/servers\/([^/]+)$/, (_r, env, _a, t, name) => deleteServerRoute(env, t.id, name), 'admin.tenant_server.delete'],
  ['GET', /^\/servers\/([^/]+)\/versions$/, (_r, env, _a, t, name) => listVersionsRoute(env, t.id, name)],
  ['POST', /^\/servers\/([^/]+)\/rollback$/, (r, env, _a, t, name) => rollbackServerRoute(r, env, t.id, name), 'admin.tenant_server.rollback'],
];

/**
 * Record an admin change with its outcome before the answer goes out, so a change the caller saw
 * succeed is always in the trail (reads are not audited).
 */
async function audited(
  env: Env,
  actor: Actor,
  tenantId: string | null,
  action: string | undefined,
  resource: string,
  run: () => Promise<Response>,
): Promise<Response> {
  const response = await run();
  if (!action) return response;
  const status = response.status;
  // A creation names what it created (the new user's or key's id), never its secret; a refusal its error code.
  const answer = response.headers.get('content-type')?.includes('json')
    ? ((await response
        .clone()
        .json()
        .catch(() => null)) as { id?: unknown; version?: unknown; error?: { code?: unknown } } | null)
    : null;
  const created = status === 201 ? answer?.id : undefined;
  await recordAudit(env, {
    tenant: tenantId,
    action,
    result: status < 400 ? 'ok' : status === 401 || status === 403 || status === 404 ? 'denied' : 'error',
    user: actor.kind === 'operator' ? 'operator' : `key:${actor.keyId}`,
    client: actor.kind === 'operator' ? undefined : actor.keyId,
    resource: typeof created === 'string' ? created : resource,
    details: {
      status,
      ...(typeof answer?.version === 'number' ? { version: answer.version } : {}),
      ...(typeof answer?.error?.code === 'string' ? { error: answer.error.code } : {}),
    },
  });
  return response;
}

const notFound = () => restError(404, 'not_found', 'Not found');

/**
 * The admin REST API. The operator may act on every tenant; a tenant admin (API key with role
 * admin) only on its own, and any other tenant looks exactly like one that does not exist.
 */
export async function handleAdminApi(request: Request, env: Env, path: string): Promise<Response> {
  const actor = await authenticateAdmin(request, env);
  if (actor instanceof Response) return actor;

  if (path === '/admin/api/audit' && request.method === 'GET') return platformAuditRoute(request, env, actor);
  if (path === '/admin/api/metrics' && request.method === 'GET') return platformMetricsRoute(request, env, actor);
  const exportsPath = /^\/admin\/api\/audit\/exports(?:\/([^/]+))?$/.exec(path);
  if (exportsPath && request.method === 'GET') return platformExportsRoute(request, env, actor, exportsPath[1]);
  if (path === '/admin/api/audit/migrate' && request.method === 'POST')
    return audited(env, actor, null, 'admin.audit.migrate', 'audit_events', () => migrateAuditRoute(env, actor));
  if (path === '/admin/api/tenants') {
    if (request.method === 'POST') {
      const id = (
        (await request
          .clone()
          .json()
          .catch(() => null)) as { id?: unknown } | null
      )?.id;
      const tenantId = typeof id === 'string' ? tenantIdFrom(id) : null;
      return audited(env, actor, tenantId, 'admin.tenant.create', tenantId ?? '', () => createTenantRoute(request, env, actor));
    }
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
    if (tenantId) recordDenial('tenant admin outside its tenant', { tenant: actor.kind === 'tenant-admin' ? actor.tenantId : undefined, path });
    return restError(404, 'not_found', 'Tenant not found');
  }
  const route = routes.find(([method]) => method === request.method);
  if (!route) return restError(405, 'method_not_allowed', `Use ${routes.map(([m]) => m).join(' or ')}`, { Allow: routes.map(([m]) => m).join(', ') });
  const tenant = await getTenant(env.DB, tenantId);
  if (!tenant) return restError(404, 'not_found', 'Tenant not found');
  const [, pattern, handler, action] = route;
  const id = pattern.exec(rest)?.[1] ?? '';
  // A suspended tenant's own admins may read (users, keys, upstreams, audit) but change nothing.
  const refusal = readOnlyWhileSuspended(actor, tenant, request.method);
  if (refusal) return audited(env, actor, tenant.id, action ?? 'admin.change', id || tenant.id, refusal);
  return audited(env, actor, tenant.id, action, id || tenant.id, () => handler(request, env, actor, tenant, id));
}

/**
 * The refusal for a change by a suspended tenant's own admin (the operator may still do anything),
 * or null. Every method but GET changes something, so routes added later are covered too; the
 * caller audits the refusal once, as `denied`.
 */
function readOnlyWhileSuspended(actor: Actor, tenant: Tenant, method: string): (() => Promise<Response>) | null {
  if (method === 'GET' || actor.kind === 'operator' || tenant.status === 'active') return null;
  return async () =>
    restError(
      403,
      'tenant_suspended',
      'This tenant is suspended: its admins may read users, keys, upstreams and the audit trail, but not change anything until the platform operator resumes it',
    );
}
