import { html, securityHeaders, type SafeHtml } from '../http/html';
import { buildInfo, buildLabel } from '../observability/build-info';
import { requestContext } from '../observability/request-context';
import type { Role, Tenant } from '../tenancy/model';
import type { DashboardSession } from './dashboard-session';

/**
 * The dashboard's page shell: navigation, the signed-in identity, the sign-out form and the
 * platform's security headers with a CSP that allows only this Worker's script and style files,
 * and a footer naming the build that serves the page (src/observability/build-info.ts).
 * Every dynamic string reaches the page through the escaping `html` tag.
 */

/** Who is looking: the operator, or a tenant user with their current role (read from D1 per request). */
export type Viewer =
  { kind: 'operator'; session: DashboardSession } | { kind: 'user'; session: DashboardSession; tenantId: string; userId: string; email: string; role: Role };

export type Section = 'servers' | 'deployed' | 'sessions' | 'playground' | 'keys' | 'users' | 'audit' | 'metrics' | 'alerts' | 'upstreams' | 'operator';

/** The URL of a tenant's dashboard section. */
export function tenantUrl(tenantId: string, section: Exclude<Section, 'operator'>, rest = ''): string {
  return `/dashboard/t/${encodeURIComponent(tenantId)}/${section}${rest}`;
}

/** A hidden CSRF field for a form posted by this session. */
export function csrfField(viewer: Viewer): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${viewer.session.csrf}">`;
}

function nav(viewer: Viewer | null, tenant: Tenant | null, active: Section | null): SafeHtml {
  if (!viewer) return html``;
  const link = (section: Section, href: string, label: string) =>
    html`<li><a href="${href}"${active === section ? html` aria-current="page"` : ''}>${label}</a></li>`;
  const isAdmin = viewer.kind === 'operator' || viewer.role === 'admin';
  const tenantLinks = tenant
    ? [
        link('servers', tenantUrl(tenant.id, 'servers'), 'Servers'),
        link('sessions', tenantUrl(tenant.id, 'sessions'), 'Sessions'),
        ...(viewer.kind === 'user' ? [link('playground', tenantUrl(tenant.id, 'playground'), 'Playground')] : []),
        ...(isAdmin
          ? [
              link('deployed', tenantUrl(tenant.id, 'deployed'), 'Deployed servers'),
              link('keys', tenantUrl(tenant.id, 'keys'), 'API keys'),
              link('users', tenantUrl(tenant.id, 'users'), 'Users'),
              link('audit', tenantUrl(tenant.id, 'audit'), 'Audit log'),
              link('metrics', tenantUrl(tenant.id, 'metrics'), 'Metrics'),
              link('upstreams', tenantUrl(tenant.id, 'upstreams'), 'Upstreams'),
              link('alerts', tenantUrl(tenant.id, 'alerts'), 'Alerts'),
            ]
          : []),
      ]
    : [];
  const operatorLink = viewer.kind === 'operator' ? [link('operator', '/dashboard/operator', 'Operator')] : [];
  const who = viewer.kind === 'operator' ? 'Operator' : html`${viewer.email} (${viewer.role})`;
  return html`<header class="topbar">
  <a class="brand" href="/dashboard">SMCP</a>
  <nav aria-label="Main"><ul>${operatorLink}${tenantLinks}</ul></nav>
  <div class="who"><span>${who}</span>${tenant ? html` · <span>${tenant.name}</span>` : ''}
    <form method="post" action="/dashboard/sign-out">${csrfField(viewer)}<button type="submit" class="link">Sign out</button></form>
  </div>
</header>`;
}

export interface PageOptions {
  viewer: Viewer | null;
  tenant?: Tenant | null;
  active?: Section | null;
  title: string;
  body: SafeHtml;
  status?: number;
  /** Load the chart library (metrics page). */
  charts?: boolean;
  /** Allow `data:` images (the playground shows images tools return; nothing else may). */
  dataImages?: boolean;
  setCookies?: string[];
}

/** A complete dashboard page. */
export function dashboardPage(opts: PageOptions): Response {
  const headers = securityHeaders([], { scripts: true });
  if (opts.dataImages) headers.set('Content-Security-Policy', headers.get('Content-Security-Policy')!.replace("img-src 'self'", "img-src 'self' data:"));
  // `no-referrer` makes Chromium send `Origin: null` on form posts, which would defeat the
  // same-origin check on every dashboard form; `same-origin` still sends nothing to other sites.
  headers.set('Referrer-Policy', 'same-origin');
  for (const cookie of opts.setCookies ?? []) headers.append('Set-Cookie', cookie);
  const chartAssets = opts.charts
    ? html`<link rel="stylesheet" href="/dashboard/assets/uplot.min.css"><script src="/dashboard/assets/uplot.iife.min.js" defer></script>`
    : '';
  const doc = html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${opts.title} · SMCP dashboard</title>
<link rel="stylesheet" href="/dashboard/assets/dashboard.css">${chartAssets}
<script src="/dashboard/assets/dashboard.js" defer></script></head>
<body>
<a class="skip" href="#content">Skip to content</a>
${nav(opts.viewer, opts.tenant ?? null, opts.active ?? null)}
<main id="content" tabindex="-1">
<h1>${opts.title}</h1>
${opts.body}
</main>
<footer class="site-footer"><p class="muted small" data-build>SMCP ${buildLabel(buildInfo(requestContext()?.env))}</p></footer>
</body>
</html>`;
  return new Response(doc.value, { status: opts.status ?? 200, headers });
}

/** A page that only says why not (refusals, not-found, expired forms). */
export function messagePage(viewer: Viewer | null, status: number, title: string, message: string, setCookies: string[] = []): Response {
  const back = viewer ? html`<p><a href="/dashboard">Back to the dashboard</a></p>` : html`<p><a href="/dashboard/sign-in">Sign in</a></p>`;
  return dashboardPage({ viewer, title, status, body: html`<p class="error" role="alert">${message}</p>${back}`, setCookies });
}

/** Format a millisecond timestamp for tables (UTC, so screenshots and tests read the same everywhere). */
export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}
