import { html, type SafeHtml } from '../http/html';
import { DeployInput, deployModule, isRefusal, rollbackModule, serverView } from '../tenant-servers/deploy';
import { MAX_MODULE_BYTES } from '../tenant-servers/module-meter';
import { deleteTenantServer, listTenantServers, listVersions, type TenantServerRecord } from '../tenant-servers/module-store';
import type { TenantContext } from './dashboard';
import { auditDashboardChange } from './dashboard-audit';
import { redirect } from './dashboard-auth';
import { csrfField, dashboardPage, messagePage, tenantUrl, when } from './dashboard-layout';

/**
 * Deployed servers (tenant admins): upload or paste an ES module to deploy a server, see every
 * version, roll back, delete. Deploys go through the same checks as the admin API
 * (src/tenant-servers/deploy.ts) and are audited with the same actions, `details.via = "dashboard"`.
 */

async function serverPanel(c: TenantContext, s: TenantServerRecord): Promise<SafeHtml> {
  const versions = await listVersions(c.env.DB, c.tenant.id, s.name);
  const base = tenantUrl(c.tenant.id, 'deployed', `/${s.name}`);
  const view = serverView(s, c.env);
  return html`<section class="panel" aria-labelledby="dep-${s.name}">
  <h2 id="dep-${s.name}">${s.title ?? s.name} <span class="badge ok">v${s.activeVersion}</span></h2>
  <p class="muted">Server name <code>${s.name}</code> · tools ${s.tools.join(', ')} · network ${s.egress.length ? s.egress.join(', ') : 'none'}</p>
  <p>Connect: <code>${view.url}</code> (see Servers for client snippets)</p>
  <table><caption>Versions of ${s.name}</caption>
  <thead><tr><th scope="col">Version</th><th scope="col">Deployed</th><th scope="col">Size</th><th scope="col">SHA-256</th><th scope="col">Tools</th><th scope="col">Actions</th></tr></thead>
  <tbody>${versions.map(
    (
      v,
    ) => html`<tr><td>v${v.version}${v.active ? html` <span class="badge ok">active</span>` : ''}</td><td>${when(v.createdAt)}</td><td>${v.size} B</td><td><code class="small">${v.sha256.slice(0, 12)}</code></td><td>${v.tools.join(', ')}</td>
    <td class="actions">${v.active ? html`<span class="muted">—</span>` : html`<form method="post" action="${base}/rollback" class="inline">${csrfField(c.viewer)}<input type="hidden" name="version" value="${v.version}"><button type="submit">Roll back to v${v.version}</button></form>`}</td></tr>`,
  )}</tbody></table>
  <form method="post" action="${base}/delete" class="inline">${csrfField(c.viewer)}<button type="submit" class="danger" aria-label="Delete server ${s.name}">Delete server and all versions</button></form>
</section>`;
}

async function render(c: TenantContext, opts: { banner?: SafeHtml; error?: string; status?: number } = {}): Promise<Response> {
  const servers = await listTenantServers(c.env.DB, c.tenant.id);
  const form = html`<section class="panel" aria-labelledby="deploy-title">
  <h2 id="deploy-title">Deploy a server</h2>
  <p>An ES module that default-exports <code>{ tools: { … } }</code> (docs/servers.md, "Tenant-deployed servers"), at most ${MAX_MODULE_BYTES} bytes. Deploying an existing name makes a new version.</p>
  ${opts.error ? html`<p class="error" role="alert">${opts.error}</p>` : ''}
  <form method="post" action="${tenantUrl(c.tenant.id, 'deployed')}" enctype="multipart/form-data" class="stack">${csrfField(c.viewer)}
    <label for="dep-name">Server name</label><input id="dep-name" name="name" required maxlength="32" pattern="[a-z][a-z0-9\\-]{0,31}">
    <label for="dep-title">Title (optional)</label><input id="dep-title" name="title" maxlength="200">
    <label for="dep-file">Module file (.js)</label><input id="dep-file" name="file" type="file" accept=".js,.mjs,text/javascript">
    <label for="dep-source">…or paste the module</label><textarea id="dep-source" name="source" rows="12" cols="80" spellcheck="false"></textarea>
    <label for="dep-egress">Hosts it may fetch (comma-separated; empty keeps the current list, "none" removes network access)</label><input id="dep-egress" name="egress" maxlength="2000">
    <div><button type="submit">Deploy</button></div>
  </form>
</section>`;
  const panels = await Promise.all(servers.map((s) => serverPanel(c, s)));
  return dashboardPage({
    viewer: c.viewer,
    tenant: c.tenant,
    active: 'deployed',
    title: 'Deployed servers',
    status: opts.status,
    body: html`${opts.banner ?? ''}${form}${panels}`,
  });
}

/** `GET /dashboard/t/<t>/deployed`. */
export function deployedPage(c: TenantContext): Promise<Response> {
  const done = c.url.searchParams.get('done');
  const banner =
    done === 'deleted'
      ? html`<p class="notice" role="status">Server deleted.</p>`
      : done === 'rolled-back'
        ? html`<p class="notice" role="status">Rolled back: the next call runs that version.</p>`
        : undefined;
  return render(c, { banner });
}

/** `POST /dashboard/t/<t>/deployed`: deploy from the uploaded file, or the pasted source. */
export async function deployFromDashboard(c: TenantContext): Promise<Response> {
  const file = c.form?.get('file');
  const pasted = String(c.form?.get('source') ?? '');
  const source = file instanceof File && file.size > 0 ? (file.size > 2 * MAX_MODULE_BYTES ? 'x'.repeat(MAX_MODULE_BYTES + 1) : await file.text()) : pasted;
  const name = String(c.form?.get('name') ?? '').trim();
  const egressField = String(c.form?.get('egress') ?? '').trim();
  const egress =
    egressField === ''
      ? undefined
      : egressField === 'none'
        ? []
        : egressField
            .split(',')
            .map((h) => h.trim())
            .filter(Boolean);
  const title = String(c.form?.get('title') ?? '').trim();
  const parsed = DeployInput.safeParse({ module: source, ...(title ? { title } : {}), ...(egress ? { egress } : {}) });
  if (!parsed.success) {
    await auditDashboardChange(c, c.tenant.id, 'admin.tenant_server.deploy', name, 'error', { status: 400, error: 'invalid_request' });
    return render(c, { error: `${parsed.error.issues[0]?.path.join('.') || 'form'}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, status: 400 });
  }
  const deployed = await deployModule(c.env, c.tenant.id, name, parsed.data);
  if (isRefusal(deployed)) {
    await auditDashboardChange(c, c.tenant.id, 'admin.tenant_server.deploy', name, 'error', { status: deployed.status, error: deployed.code });
    return render(c, { error: `${deployed.code}: ${deployed.message}`, status: deployed.status });
  }
  await auditDashboardChange(c, c.tenant.id, 'admin.tenant_server.deploy', name, 'ok', { status: 201, version: deployed.activeVersion });
  return render(c, {
    banner: html`<p class="notice" role="status">Deployed ${name} v${deployed.activeVersion}: tools ${deployed.tools.join(', ')}.</p>`,
    status: 201,
  });
}

/** `POST /dashboard/t/<t>/deployed/<name>/rollback`. */
export async function rollbackFromDashboard(c: TenantContext): Promise<Response> {
  const version = Number(c.form?.get('version'));
  const result = Number.isInteger(version) && version > 0 ? await rollbackModule(c.env, c.tenant.id, c.id, version) : null;
  if (!result || isRefusal(result)) {
    await auditDashboardChange(c, c.tenant.id, 'admin.tenant_server.rollback', c.id, 'denied', { status: 404 });
    return messagePage(c.viewer, 404, 'Not found', 'This organization has no such server version.');
  }
  await auditDashboardChange(c, c.tenant.id, 'admin.tenant_server.rollback', c.id, 'ok', { status: 200, version });
  return redirect(tenantUrl(c.tenant.id, 'deployed', '?done=rolled-back'));
}

/** `POST /dashboard/t/<t>/deployed/<name>/delete`. */
export async function removeFromDashboard(c: TenantContext): Promise<Response> {
  const deleted = await deleteTenantServer(c.env.DB, c.tenant.id, c.id);
  await auditDashboardChange(c, c.tenant.id, 'admin.tenant_server.delete', c.id, deleted ? 'ok' : 'denied', { status: deleted ? 204 : 404 });
  if (!deleted) return messagePage(c.viewer, 404, 'Not found', 'This organization has no such server.');
  return redirect(tenantUrl(c.tenant.id, 'deployed', '?done=deleted'));
}
