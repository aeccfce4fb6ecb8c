import { recordAudit, recordDenial } from '../audit/record';
import { readCookie } from '../auth/cookies';
import { SignInGuard, type ThrottledPage } from '../auth/sign-in-guard';
import { adminToken } from '../config';
import { randomHex, safeEqual } from '../crypto/secrets';
import { html } from '../http/html';
import { EmailSchema } from '../tenancy/model';
import { checkSignIn, organizationField } from '../auth/sign-in-identity';
import { dashboardPage, messagePage, type Viewer } from './dashboard-layout';
import { createSession, dashboardCookie, destroySession } from './dashboard-session';

/**
 * Dashboard sign-in (tenant accounts, the same directory as `/authorize`), operator sign-in (the
 * operator token) and sign-out. The sign-in forms are CSRF-protected with a double-submit
 * `__Host-` cookie, since there is no session yet; every outcome is audited. Both forms share the
 * back-off of `/authorize` (`SignInGuard`: per account, a single key for the operator token, and
 * per IP), so guessing is throttled the same wherever it is tried.
 */

const SIGNIN_CSRF_COOKIE = '__Host-smcp-dash-csrf';
const SIGNIN_CSRF_TTL = 30 * 60;

const ip = (request: Request) => request.headers.get('cf-connecting-ip') ?? undefined;
const redirect = (location: string, cookies: string[] = []) => {
  const headers = new Headers({ Location: location, 'Cache-Control': 'no-store' });
  for (const c of cookies) headers.append('Set-Cookie', c);
  return new Response(null, { status: 303, headers });
};

function signInForm(kind: 'user' | 'operator', opts: { error?: string; email?: string; organization?: string | null; status?: number } = {}): Response {
  const csrf = randomHex(32);
  const fields =
    kind === 'user'
      ? html`<label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${opts.email ?? ''}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  ${organizationField(opts.organization)}`
      : html`<label for="token">Operator token</label>
  <input id="token" name="token" type="password" autocomplete="off" required>`;
  const other =
    kind === 'user'
      ? html`<p class="muted">Platform operator? <a href="/dashboard/operator/sign-in">Sign in with the operator token</a>.</p>`
      : html`<p class="muted"><a href="/dashboard/sign-in">Sign in with a tenant account</a> instead.</p>`;
  const body = html`<div class="narrow">
${opts.error ? html`<p class="error" role="alert">${opts.error}</p>` : ''}
<form method="post" action="${kind === 'user' ? '/dashboard/sign-in' : '/dashboard/operator/sign-in'}" class="stack">
  <input type="hidden" name="csrf" value="${csrf}">
  ${fields}
  <button type="submit">Sign in</button>
</form>
${other}</div>`;
  return dashboardPage({
    viewer: null,
    title: kind === 'user' ? 'Sign in to the SMCP dashboard' : 'Operator sign-in',
    body,
    status: opts.status,
    setCookies: [dashboardCookie(SIGNIN_CSRF_COOKIE, csrf, SIGNIN_CSRF_TTL)],
  });
}

/** `GET /dashboard/sign-in` and `GET /dashboard/operator/sign-in`. */
export function showSignIn(kind: 'user' | 'operator', env: Env): Response {
  if (kind === 'operator' && !adminToken(env)) return messagePage(null, 404, 'Not found', 'Operator sign-in is not enabled on this deployment.');
  return signInForm(kind);
}

/** The guard's 429, as a dashboard page (with its Retry-After). */
const throttledPage: ThrottledPage = (title, message, headers) => {
  const response = messagePage(null, 429, title, message);
  headers.forEach((value, name) => response.headers.set(name, value));
  return response;
};

async function signInCsrfOk(request: Request, form: FormData): Promise<boolean> {
  const cookie = readCookie(request, SIGNIN_CSRF_COOKIE);
  const field = form.get('csrf');
  return !!cookie && typeof field === 'string' && (await safeEqual(cookie, field));
}

/** `POST /dashboard/sign-in`: email and password against the tenant directory. */
export async function signInUser(request: Request, env: Env, ctx: Pick<ExecutionContext, 'waitUntil'>): Promise<Response> {
  const form = await request.formData().catch(() => null);
  if (!form || !(await signInCsrfOk(request, form))) {
    await recordDenial(
      'dashboard sign-in without a valid CSRF token',
      { path: '/dashboard/sign-in', action: 'auth.sign_in' },
      { details: { via: 'dashboard', reason: 'csrf' } },
    );
    return messagePage(null, 403, 'Sign-in form expired', 'The form expired or was not sent from this site. Open the sign-in page and try again.');
  }
  const email = EmailSchema.safeParse(form.get('email'));
  const guard = new SignInGuard(env, ctx, request, email.success ? email.data : null, { page: throttledPage });
  const throttled = await guard.refusal();
  if (throttled) return throttled;
  const check = await checkSignIn(env.DB, form);
  if (check.outcome !== 'ok') {
    if (check.outcome === 'failed') await guard.failed();
    const reason = check.outcome === 'failed' ? 'bad credentials' : 'organization needed';
    await recordDenial(
      `dashboard sign-in: ${reason}`,
      { path: '/dashboard/sign-in', action: 'auth.sign_in', principal: check.email ?? undefined },
      { details: { via: 'dashboard', reason } },
    );
    return signInForm('user', { error: check.message, email: check.email ?? undefined, organization: check.organization, status: 401 });
  }
  const user = check.user;
  await guard.succeeded();
  const cookie = await createSession(env, { kind: 'user', tenantId: user.tenantId, userId: user.id, email: user.email });
  await recordAudit(env, { tenant: user.tenantId, action: 'auth.sign_in', result: 'ok', user: user.id, ip: ip(request), details: { via: 'dashboard' } });
  return redirect('/dashboard', [cookie, dashboardCookie(SIGNIN_CSRF_COOKIE, '', 0)]);
}

/** `POST /dashboard/operator/sign-in`: the operator token, compared in constant time. */
export async function signInOperator(request: Request, env: Env, ctx: Pick<ExecutionContext, 'waitUntil'>): Promise<Response> {
  const expected = adminToken(env);
  if (!expected) return messagePage(null, 404, 'Not found', 'Operator sign-in is not enabled on this deployment.');
  const form = await request.formData().catch(() => null);
  if (!form || !(await signInCsrfOk(request, form))) {
    await recordDenial(
      'operator sign-in without a valid CSRF token',
      { path: '/dashboard/operator/sign-in', action: 'auth.operator_sign_in' },
      { details: { via: 'dashboard', reason: 'csrf' } },
    );
    return messagePage(null, 403, 'Sign-in form expired', 'The form expired or was not sent from this site. Open the sign-in page and try again.');
  }
  const guard = new SignInGuard(env, ctx, request, null, { operator: true, page: throttledPage });
  const throttled = await guard.refusal();
  if (throttled) return throttled;
  const token = form.get('token');
  if (typeof token !== 'string' || token.length > 512 || !(await safeEqual(token, expected))) {
    await guard.failed();
    await recordDenial(
      'bad operator token',
      { path: '/dashboard/operator/sign-in', action: 'auth.operator_sign_in' },
      { details: { via: 'dashboard', reason: 'bad token' } },
    );
    return signInForm('operator', { error: 'That operator token is not valid.', status: 401 });
  }
  await guard.succeeded();
  const cookie = await createSession(env, { kind: 'operator' });
  await recordAudit(env, { tenant: null, action: 'auth.operator_sign_in', result: 'ok', user: 'operator', ip: ip(request), details: { via: 'dashboard' } });
  return redirect('/dashboard/operator', [cookie, dashboardCookie(SIGNIN_CSRF_COOKIE, '', 0)]);
}

/** `POST /dashboard/sign-out` (CSRF checked by the caller): deletes the session record and the cookie. */
export async function signOut(request: Request, env: Env, viewer: Viewer): Promise<Response> {
  const cleared = await destroySession(env, request);
  await recordAudit(env, {
    tenant: viewer.kind === 'user' ? viewer.tenantId : null,
    action: 'auth.sign_out',
    result: 'ok',
    user: viewer.kind === 'user' ? viewer.userId : 'operator',
    ip: ip(request),
    details: { via: 'dashboard' },
  });
  return redirect('/dashboard/sign-in', [cleared]);
}

export { redirect };
