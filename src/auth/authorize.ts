import { AuthorizationError, CimdFetchError, type AuthRequest, type OAuthHelpers } from '@cloudflare/workers-oauth-provider';
import { z } from 'zod';
import { findServer, SERVER_NAME_PATTERN, type HostedServerEntry } from '../../servers/registry';
import { platformSecret, publicOrigin } from '../config';
import { randomHex, safeEqual } from '../crypto/secrets';
import type { GrantProps } from '../gate/principal-resolver';
import { serverNameOf } from '../oauth/oauth-surface';
import { authorizationServerFor } from '../oauth/resource-lookup';
import { tenantDefinedServer, upstreamEntry } from '../tenancy/server-names';
import { recordAudit, recordDenial } from '../audit/record';
import { log } from '../observability/log';
import { EmailSchema } from '../tenancy/model';
import { getAccessRecord } from '../tenancy/tenant-store';
import { checkSignIn } from './sign-in-identity';
import { readBounded } from '../http/bounded-body';
import { consentPage, errorPage, signInPage } from './authorize-pages';
import { SignInGuard } from './sign-in-guard';
import { openCookieValue, readCookie, sealCookieValue, setCookie } from './cookies';

const SIGNIN_COOKIE = '__Host-smcp-signin';
const CSRF_COOKIE = '__Host-smcp-csrf';
const SIGNIN_TTL_SECONDS = 10 * 60;
const SIGNIN_PURPOSE = 'authorize-signin';
/** The sign-in and consent forms are a few hundred bytes; anything larger is refused unread. */
const MAX_FORM_BYTES = 16 * 1024;

const SignInSchema = z.object({ userId: z.string(), tenantId: z.string(), email: z.string() });
type SignIn = z.infer<typeof SignInSchema>;

/**
 * `/authorize`: sign the user in (email and password against the tenant directory), then ask for
 * consent through the provider's consent helpers, then complete the authorization with the
 * platform identity as the grant's props. The sign-in survives only ten minutes, in a signed
 * cookie, long enough to answer the consent page.
 */
export async function handleAuthorize(request: Request, env: Env, ctx: Pick<ExecutionContext, 'waitUntil'>): Promise<Response> {
  const secret = platformSecret(env);
  if (!secret) return errorPage(503, 'Not configured', 'The platform secret SMCP_SECRET is not set.');
  const oauth = (await authorizationServerFor(env, serverNameOf(new URL(request.url).searchParams.get('resource')))).getOAuthApi(env);
  try {
    const authRequest = await oauth.parseAuthRequest(request);
    const server = await serverFor(env, authRequest);
    if (!server) return errorPage(400, 'Unknown server', 'This authorization request does not name a server hosted here.');
    if (request.method === 'GET') {
      const signedIn = SignInSchema.safeParse(await openCookieValue(secret, SIGNIN_PURPOSE, readCookie(request, SIGNIN_COOKIE)));
      return signedIn.success
        ? await showConsent(request, env, oauth, authRequest, server, signedIn.data, new Headers())
        : await showSignIn(request, oauth, authRequest, server);
    }
    if (request.method !== 'POST') return errorPage(405, 'Method not allowed', 'Use GET or POST.');
    const form = await readForm(request);
    if (form === 'too_large') return errorPage(413, 'Form too large', 'The form was larger than this page ever sends.');
    if (!form) return errorPage(400, 'Bad request', 'The form could not be read.');
    return form.has('decision') ? await decide(request, env, oauth, form, secret) : await signIn(request, env, ctx, oauth, authRequest, server, form, secret);
  } catch (error) {
    if (error instanceof AuthorizationError && error.redirectTo) return Response.redirect(error.redirectTo, 302);
    if (error instanceof AuthorizationError) return errorPage(400, 'Authorization failed', error.description);
    if (error instanceof CimdFetchError) return errorPage(400, 'Authorization failed', 'This app could not be verified.');
    throw error;
  }
}

/** The posted form, read within MAX_FORM_BYTES. */
async function readForm(request: Request): Promise<FormData | null | 'too_large'> {
  const body = await readBounded(request, MAX_FORM_BYTES);
  if (body === 'too_large') return body;
  const type = request.headers.get('content-type') ?? '';
  return new Response(body, { headers: { 'content-type': type } }).formData().catch(() => null);
}

/** The hosted server or tenant-defined server (upstream, deployed module) whose protected resource the request targets (`<origin>/servers/<name>/<transport>`). */
async function serverFor(env: Env, req: AuthRequest): Promise<HostedServerEntry | undefined> {
  const resource = Array.isArray(req.resource) ? req.resource[0] : req.resource;
  if (!resource || new URL(resource).origin !== publicOrigin(env)) return undefined;
  const name = serverNameOf(resource);
  if (!name) return undefined;
  // Any well-formed name may be some tenant's server: whether it is the user's is decided after sign-in (tenantOffers).
  return findServer(name) ?? (SERVER_NAME_PATTERN.test(name) ? upstreamEntry(name) : undefined);
}

/** Whether the user's tenant offers this server: enabled hosted server, or its own enabled upstream or deployed module. */
async function tenantOffers(env: Env, tenantId: string, enabled: string[], server: HostedServerEntry): Promise<boolean> {
  if (findServer(server.name)) return enabled.includes(server.name);
  const defined = await tenantDefinedServer(env.DB, tenantId, server.name);
  return defined?.kind === 'upstream' ? defined.upstream.enabled : defined !== null;
}

async function clientName(oauth: OAuthHelpers, req: AuthRequest): Promise<string> {
  return (await oauth.describeConsent(req)).clientName;
}

async function showSignIn(
  request: Request,
  oauth: OAuthHelpers,
  req: AuthRequest,
  server: HostedServerEntry,
  error?: string,
  email?: string,
  organization?: string | null,
): Promise<Response> {
  const csrf = randomHex(32);
  const headers = new Headers({ 'Set-Cookie': setCookie(CSRF_COOKIE, csrf, SIGNIN_TTL_SECONDS) });
  const url = new URL(request.url);
  return signInPage({
    action: url.pathname + url.search,
    csrf,
    serverTitle: server.title,
    clientName: await clientName(oauth, req),
    error,
    email,
    organization,
    headers,
    status: error ? 401 : 200,
  });
}

async function signIn(
  request: Request,
  env: Env,
  ctx: Pick<ExecutionContext, 'waitUntil'>,
  oauth: OAuthHelpers,
  req: AuthRequest,
  server: HostedServerEntry,
  form: FormData,
  secret: string,
): Promise<Response> {
  const csrfCookie = readCookie(request, CSRF_COOKIE);
  const csrfField = form.get('csrf');
  if (!csrfCookie || typeof csrfField !== 'string' || !(await safeEqual(csrfCookie, csrfField))) {
    recordDenial('sign-in without a valid CSRF token', { path: '/authorize', action: 'auth.sign_in' });
    return errorPage(403, 'Sign-in expired', 'The sign-in form expired or was not sent from this site. Start again from your app.');
  }
  const email = EmailSchema.safeParse(form.get('email'));
  const guard = new SignInGuard(env, ctx, request, email.success ? email.data : null);
  const throttled = await guard.refusal();
  if (throttled) return throttled;
  const check = await checkSignIn(env.DB, form);
  if (check.outcome !== 'ok') {
    if (check.outcome === 'failed') await guard.failed();
    recordDenial(check.outcome === 'failed' ? 'sign-in failed' : 'sign-in needs the organization', {
      path: '/authorize',
      action: 'auth.sign_in',
      principal: check.email ?? undefined,
      resource: server.name,
    });
    return showSignIn(request, oauth, req, server, check.message, check.email ?? undefined, check.organization);
  }
  const user = check.user;
  await guard.succeeded();
  log('info', 'signin.ok', { tenant: user.tenantId, principal: user.id });
  await recordAudit(env, { tenant: user.tenantId, action: 'auth.sign_in', result: 'ok', user: user.id, resource: server.name });
  const session: SignIn = { userId: user.id, tenantId: user.tenantId, email: user.email };
  const headers = new Headers();
  headers.append('Set-Cookie', setCookie(SIGNIN_COOKIE, await sealCookieValue(secret, SIGNIN_PURPOSE, session, SIGNIN_TTL_SECONDS), SIGNIN_TTL_SECONDS));
  headers.append('Set-Cookie', setCookie(CSRF_COOKIE, '', 0));
  return showConsent(request, env, oauth, req, server, session, headers);
}

/** Refuses before consent when the tenant cannot use the server, so nobody approves a useless grant. */
async function showConsent(
  request: Request,
  env: Env,
  oauth: OAuthHelpers,
  req: AuthRequest,
  server: HostedServerEntry,
  session: SignIn,
  headers: Headers,
): Promise<Response> {
  const access = await getAccessRecord(env.DB, session.tenantId, session.userId);
  if (!access || access.tenantStatus !== 'active' || !(await tenantOffers(env, session.tenantId, access.servers, server))) {
    return errorPage(403, 'Not available', `Your organization has not enabled ${server.title}, or its account is suspended.`);
  }
  const details = await oauth.describeConsent(req);
  const consent = await oauth.beginConsent(req);
  for (const cookie of consent.headers.getSetCookie()) headers.append('Set-Cookie', cookie);
  const url = new URL(request.url);
  return consentPage({ action: url.pathname + url.search, handle: consent.handle, details, serverTitle: server.title, email: session.email, headers });
}

async function decide(request: Request, env: Env, oauth: OAuthHelpers, form: FormData, secret: string): Promise<Response> {
  const handle = String(form.get('handle') ?? '');
  const session = SignInSchema.safeParse(await openCookieValue(secret, SIGNIN_PURPOSE, readCookie(request, SIGNIN_COOKIE)));
  if (!session.success) return errorPage(403, 'Sign-in expired', 'Your sign-in expired. Start again from your app.');
  if (form.get('decision') !== 'approve') {
    const denied = await oauth.denyConsent(request, handle);
    await recordAudit(env, {
      tenant: session.data.tenantId,
      action: 'auth.consent',
      result: 'denied',
      user: session.data.userId,
      details: { decision: 'deny' },
    });
    return new Response(null, { status: 302, headers: denied.headers });
  }
  const approved = await oauth.approveConsent(request, handle);
  // The server comes from the stored request the handle names, never from the form or the URL.
  const server = await serverFor(env, approved.request);
  if (!server) return errorPage(400, 'Unknown server', 'This authorization request does not name a server hosted here.');
  const access = await getAccessRecord(env.DB, session.data.tenantId, session.data.userId);
  if (!access || access.tenantStatus !== 'active' || !(await tenantOffers(env, session.data.tenantId, access.servers, server))) {
    return errorPage(403, 'Not available', `Your organization has not enabled ${server.title}, or its account is suspended.`);
  }
  const props: GrantProps = { ...session.data, role: access.role };
  const { redirectTo } = await oauth.completeAuthorization({
    request: approved.request,
    userId: session.data.userId,
    metadata: { tenantId: session.data.tenantId, server: server.name },
    scope: approved.request.scope,
    props,
  });
  await recordAudit(env, {
    tenant: session.data.tenantId,
    action: 'auth.consent',
    result: 'ok',
    user: session.data.userId,
    client: approved.request.clientId,
    resource: server.name,
  });
  approved.headers.set('Location', redirectTo);
  approved.headers.append('Set-Cookie', setCookie(SIGNIN_COOKIE, '', 0));
  return new Response(null, { status: 302, headers: approved.headers });
}
