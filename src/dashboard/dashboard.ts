import type { Actor } from '../admin/admin-auth';
import { recordAudit, recordDenial } from '../audit/record';
import { publicOrigin } from '../config';
import { safeEqual } from '../crypto/secrets';
import { boundedRequest } from '../http/bounded-body';
import { log } from '../observability/log';
import { MAX_MODULE_BYTES } from '../tenant-servers/module-meter';
import { TenantIdSchema, type Tenant } from '../tenancy/model';
import { getAccessRecord, getTenant } from '../tenancy/tenant-store';
import { auditEventPage, auditExport, auditPage } from './audit-page';
import { redirect, showSignIn, signInOperator, signInUser, signOut } from './dashboard-auth';
import { messagePage, tenantUrl, type Viewer } from './dashboard-layout';
import { destroySession, loadSession } from './dashboard-session';
import { createKey, keysPage, revokeKey, rotateKey, setKeyLimits } from './keys-page';
import { metricsPage } from './metrics-page';
import { alertsPage } from './alerts-page';
import { setResponseCache, upstreamsPage } from './upstreams-page';
import { operatorPage, setTenantStatus } from './operator-page';
import { serversPage, setServerEnabled } from './servers-page';
import { deployedPage, deployFromDashboard, removeFromDashboard, rollbackFromDashboard } from './deployed-page';
import { endSessionFromDashboard, sessionsPage } from './sessions-page';
import { playgroundCall, playgroundEvent, playgroundPage } from './playground-page';
import { serveAsset } from './static-assets';
import { changeRole, createUser, deleteUser, resetPassword, usersPage } from './users-page';

/** Everything a dashboard handler needs about the request it answers. */
export interface PageContext {
  request: Request;
  env: Env;
  url: URL;
  viewer: Viewer;
  actor: Actor;
  /** The posted form (POST only; CSRF already checked). */
  form: FormData | null;
}
export interface TenantContext extends PageContext {
  tenant: Tenant;
  /** The id captured from the path (key id, user id, event id), or ''. */
  id: string;
}

type TenantHandler = (c: TenantContext) => Promise<Response> | Response;
/** Tenant pages: method, path after `/dashboard/t/<tenant>/`, handler, whether it needs an admin (or the operator). */
const TENANT_ROUTES: Array<[string, RegExp, TenantHandler, boolean | 'operator']> = [
  ['GET', /^servers$/, serversPage, false],
  ['POST', /^servers\/([a-z0-9-]{1,64})\/(?:enable|disable)$/, setServerEnabled, 'operator'],
  ['GET', /^playground$/, playgroundPage, false],
  ['GET', /^playground\/([a-z0-9-]{1,64})$/, playgroundPage, false],
  ['POST', /^playground\/([a-z0-9-]{1,64})\/call$/, playgroundCall, false],
  ['GET', /^playground\/([a-z0-9-]{1,64})\/event$/, playgroundEvent, false],
  ['GET', /^deployed$/, deployedPage, true],
  ['POST', /^deployed$/, deployFromDashboard, true],
  ['POST', /^deployed\/([a-z][a-z0-9-]{0,31})\/rollback$/, rollbackFromDashboard, true],
  ['POST', /^deployed\/([a-z][a-z0-9-]{0,31})\/delete$/, removeFromDashboard, true],
  ['GET', /^keys$/, keysPage, true],
  ['POST', /^keys$/, createKey, true],
  ['POST', /^keys\/(key_[a-z0-9]{1,40})\/revoke$/, revokeKey, true],
  ['POST', /^keys\/(key_[a-z0-9]{1,40})\/rotate$/, rotateKey, true],
  ['POST', /^keys\/(key_[a-z0-9]{1,40})\/limits$/, setKeyLimits, true],
  ['GET', /^users$/, usersPage, true],
  ['POST', /^users$/, createUser, true],
  ['POST', /^users\/(usr_[a-z0-9]{1,40})\/role$/, changeRole, true],
  ['POST', /^users\/(usr_[a-z0-9]{1,40})\/delete$/, deleteUser, true],
  ['POST', /^users\/(usr_[a-z0-9]{1,40})\/password$/, resetPassword, true],
  ['GET', /^audit$/, auditPage, true],
  ['GET', /^audit\/export$/, auditExport, true],
  ['GET', /^audit\/([A-Za-z0-9_-]{1,80})$/, auditEventPage, true],
  ['GET', /^metrics$/, metricsPage, true],
  ['GET', /^alerts$/, alertsPage, true],
  ['GET', /^upstreams$/, upstreamsPage, true],
  ['POST', /^upstreams\/([a-z][a-z0-9-]{0,31})\/cache$/, setResponseCache, true],
  ['GET', /^sessions$/, sessionsPage, false],
  ['POST', /^sessions\/([0-9a-f-]{36})\/end$/, endSessionFromDashboard, false],
];

/** Largest dashboard form body: the deploy form's module file (read up to twice the module limit) plus its other fields. */
export const MAX_DASHBOARD_BODY_BYTES = 2 * MAX_MODULE_BYTES + 64 * 1024;

const notFound = (viewer: Viewer | null) => messagePage(viewer, 404, 'Not found', 'There is no such page.');

/**
 * `/dashboard/*`: the web console for tenant admins and the operator. Sessions, CSRF and access
 * are checked here, once, before any page handler runs: a tenant user reaches only its own
 * tenant's pages (another tenant looks like one that does not exist), non-admins only the
 * servers page, and only the operator the operator view. Every refusal is audited.
 */
export async function handleDashboard(incoming: Request, env: Env, path: string, ctx: Pick<ExecutionContext, 'waitUntil'>): Promise<Response> {
  // Forms are read whole (formData), sign-in before any session exists: bound every body first.
  const request = await boundedRequest(incoming, MAX_DASHBOARD_BODY_BYTES);
  if (request === 'too_large') return messagePage(null, 413, 'Too large', `A dashboard form may send at most ${MAX_DASHBOARD_BODY_BYTES} bytes.`);
  const url = new URL(request.url);
  if (path.startsWith('/dashboard/assets/')) return (request.method === 'GET' && serveAsset(path.slice('/dashboard/assets/'.length))) || notFound(null);
  if (path === '/dashboard/sign-in' || path === '/dashboard/operator/sign-in') {
    const kind = path === '/dashboard/sign-in' ? 'user' : 'operator';
    if (request.method === 'GET') return (await loadSession(env, request)) ? redirect('/dashboard') : showSignIn(kind, env);
    if (request.method === 'POST') return kind === 'user' ? signInUser(request, env, ctx) : signInOperator(request, env, ctx);
    return messagePage(null, 405, 'Method not allowed', 'Use GET or POST.');
  }

  const session = await loadSession(env, request);
  if (!session) {
    if (request.method === 'GET') return redirect('/dashboard/sign-in');
    return messagePage(null, 403, 'Signed out', 'Your session has ended. Sign in again.');
  }
  let viewer: Viewer;
  if (session.kind === 'operator') viewer = { kind: 'operator', session };
  else {
    const access = await getAccessRecord(env.DB, session.tenantId, session.userId);
    if (!access) return redirect('/dashboard/sign-in', [await destroySession(env, request)]);
    viewer = { kind: 'user', session, tenantId: session.tenantId, userId: session.userId, email: session.email, role: access.role };
  }
  const actor: Actor =
    viewer.kind === 'operator'
      ? { kind: 'operator', via: 'dashboard' }
      : { kind: 'tenant-admin', tenantId: viewer.tenantId, userId: viewer.userId, via: 'dashboard' };

  let form: FormData | null = null;
  if (request.method === 'POST') {
    const checked = await checkedForm(request, env, viewer);
    if (checked instanceof Response) return checked;
    form = checked;
  } else if (request.method !== 'GET') return messagePage(viewer, 405, 'Method not allowed', 'Use GET or POST.');

  const c: PageContext = { request, env, url, viewer, actor, form };
  if (path === '/dashboard' || path === '/dashboard/') {
    return redirect(viewer.kind === 'operator' ? '/dashboard/operator' : tenantUrl(viewer.tenantId, 'servers'));
  }
  if (path === '/dashboard/sign-out' && form) return signOut(request, env, viewer);

  const operatorRoute = /^\/dashboard\/operator(?:\/tenants\/([^/]+)\/status)?$/.exec(path);
  if (operatorRoute) {
    if (viewer.kind !== 'operator') return refuse(c, null, 404, 'not the operator');
    if (!operatorRoute[1] && request.method === 'GET') return operatorPage(c);
    const tenant = operatorRoute[1] && TenantIdSchema.safeParse(operatorRoute[1]).success ? await getTenant(env.DB, operatorRoute[1]) : null;
    if (operatorRoute[1] && form && tenant) return setTenantStatus({ ...c, tenant, id: tenant.id });
    return notFound(viewer);
  }

  const tenantRoute = /^\/dashboard\/t\/([^/]+)\/(.+)$/.exec(path);
  if (!tenantRoute) return notFound(viewer);
  const [, tenantId, rest] = tenantRoute as unknown as [string, string, string];
  if (!TenantIdSchema.safeParse(tenantId).success) return notFound(viewer);
  if (viewer.kind === 'user' && viewer.tenantId !== tenantId) return refuse(c, tenantId, 404, 'outside its tenant');
  const routes = TENANT_ROUTES.filter(([method, pattern]) => method === request.method && pattern.test(rest));
  const routeEntry = routes[0];
  if (!routeEntry) return notFound(viewer);
  const [, pattern, handler, adminOnly] = routeEntry;
  const tenant = await getTenant(env.DB, tenantId);
  if (!tenant) return notFound(viewer);
  if (adminOnly === 'operator' && viewer.kind !== 'operator') return refuse(c, tenantId, 404, 'not the operator');
  if (adminOnly && viewer.kind === 'user' && viewer.role !== 'admin') return refuse(c, tenantId, 403, `role ${viewer.role}`);
  if (form && viewer.kind === 'user' && tenant.status !== 'active') return refuseWhileSuspended(c, tenant);
  return handler({ ...c, tenant, id: pattern.exec(rest)?.[1] ?? '' });
}

/** Read a posted form and check it came from this session's page: same origin and the session's CSRF token. */
async function checkedForm(request: Request, env: Env, viewer: Viewer): Promise<FormData | Response> {
  const origin = request.headers.get('origin');
  const form = await request.formData().catch(() => null);
  const field = form?.get('csrf');
  const sameOrigin = origin === null || origin === publicOrigin(env);
  if (!form || !sameOrigin || typeof field !== 'string' || !(await safeEqual(field, viewer.session.csrf))) {
    await audited(env, viewer, request, null, sameOrigin ? 'csrf token missing or wrong' : `cross-origin post from ${origin}`);
    return messagePage(viewer, 403, 'Form expired', 'This form expired or was not sent from this site. Go back, reload the page and try again.');
  }
  return form;
}

async function audited(env: Env, viewer: Viewer, request: Request, tenantId: string | null, reason: string): Promise<void> {
  const path = new URL(request.url).pathname;
  await recordDenial(
    `dashboard: ${reason}`,
    {
      path,
      tenant: viewer.kind === 'user' ? viewer.tenantId : (tenantId ?? undefined),
      action: 'dashboard.access',
      principal: viewer.kind === 'user' ? viewer.userId : 'operator',
      resource: path,
    },
    { details: { via: 'dashboard', reason, method: request.method, ...(tenantId ? { targetTenant: tenantId } : {}) } },
  );
}

/**
 * A suspended tenant's own users may look but not change anything (the admin API's rule, see
 * admin-api.ts): one `denied` event naming the page, and a page that says why.
 */
async function refuseWhileSuspended(c: PageContext, tenant: Tenant): Promise<Response> {
  const path = c.url.pathname;
  log('warn', 'denied', { reason: 'dashboard: tenant suspended, read-only', path, tenant: tenant.id });
  await recordAudit(c.env, {
    tenant: tenant.id,
    action: 'dashboard.change',
    result: 'denied',
    user: c.viewer.kind === 'user' ? c.viewer.userId : 'operator',
    resource: path,
    ip: c.request.headers.get('cf-connecting-ip') ?? undefined,
    details: { via: 'dashboard', reason: 'tenant suspended', method: c.request.method },
  });
  return messagePage(
    c.viewer,
    403,
    'Organization suspended',
    'This organization is suspended: you can still read its pages and export its audit log, but nothing can be changed until the platform operator resumes it.',
  );
}

/** Refuse and audit: 404 where existence must not leak (another tenant, operator pages), 403 for a role. */
async function refuse(c: PageContext, tenantId: string | null, status: 403 | 404, reason: string): Promise<Response> {
  await audited(c.env, c.viewer, c.request, tenantId, reason);
  if (status === 404) return notFound(c.viewer);
  return messagePage(c.viewer, 403, 'Admins only', 'This page is for tenant admins. Ask an admin of your organization if you need access.');
}
