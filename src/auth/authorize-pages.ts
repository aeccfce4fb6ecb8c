import type { ConsentDescription } from '@cloudflare/workers-oauth-provider';
import { html, page } from '../http/html';
import { organizationField } from './sign-in-identity';

/**
 * The pages of `/authorize`. Everything shown comes from the client or the user, so it goes
 * through the escaping `html` tag; the forms post back to the same URL (the authorization request
 * stays in the query string, the consent decision travels as the provider's one-time handle).
 */

/** Sign-in form: inputs `email`, `password` and the optional `organization`, plus the double-submit CSRF token. */
export function signInPage(opts: {
  action: string;
  csrf: string;
  serverTitle: string;
  clientName: string;
  error?: string;
  email?: string;
  organization?: string | null;
  headers?: Headers;
  status?: number;
}): Response {
  const body = html`<h1>Sign in to continue</h1>
<p><strong>${opts.clientName}</strong> wants to connect to <strong>${opts.serverTitle}</strong> on SMCP.</p>
${opts.error ? html`<p class="error" role="alert">${opts.error}</p>` : ''}
<form method="post" action="${opts.action}">
  <input type="hidden" name="csrf" value="${opts.csrf}">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${opts.email ?? ''}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  ${organizationField(opts.organization)}
  <button type="submit">Sign in</button>
</form>`;
  return page('Sign in', body, { status: opts.status, headers: opts.headers });
}

/** Consent page: client name, where tokens go (with a loopback warning), scopes, approve or deny. */
export function consentPage(opts: {
  action: string;
  handle: string;
  details: ConsentDescription;
  serverTitle: string;
  email: string;
  headers: Headers;
}): Response {
  const d = opts.details;
  const verified = d.clientDomain
    ? html`<p>Published by <strong>${d.clientDomain}</strong>.</p>`
    : html`<p>This app registered itself; its name is not verified.</p>`;
  const loopback = d.redirectIsLoopback
    ? html`<p class="warning"><strong>This sends access to an app on your computer.</strong> Continue only if you just started signing in from it.</p>`
    : '';
  const scopes = d.scope.length > 0 ? d.scope.map((s) => html`<li><code>${s}</code></li>`) : [html`<li>No scopes requested</li>`];
  const body = html`<h1>Allow ${d.clientName} to use ${opts.serverTitle}?</h1>
<p>Signed in as <strong>${opts.email}</strong>.</p>
${verified}
<p>Access will be sent to <strong>${d.redirectHost}</strong>.</p>
${loopback}
<p>Scopes requested:</p>
<ul>${scopes}</ul>
<form method="post" action="${opts.action}">
  <input type="hidden" name="handle" value="${opts.handle}">
  <div class="actions">
    <button type="submit" name="decision" value="approve">Allow</button>
    <button type="submit" name="decision" value="deny">Deny</button>
  </div>
</form>`;
  const target = new URL(d.redirectUri);
  const formTargets = target.protocol === 'http:' || target.protocol === 'https:' ? [target.origin] : [];
  return page('Authorize', body, { headers: opts.headers, formTargets });
}

/** A local error page: used whenever redirecting back to the client would not be safe. */
export function errorPage(status: number, title: string, message: string, headers?: Headers): Response {
  return page(title, html`<h1>${title}</h1><p class="error" role="alert">${message}</p>`, { status, headers });
}
