import { patchUpstream } from '../admin/upstream-routes';
import { MAX_RESPONSE_TTL_MS, MIN_RESPONSE_TTL_MS, ResponseCacheSettingsSchema } from '../gateway/response-cache-model';
import type { UpstreamRecord } from '../gateway/upstream-model';
import type { ResponseCacheView } from '../gateway/response-cache';
import { upstreamStub } from '../gateway/upstream-state';
import { getUpstream, listUpstreams } from '../gateway/upstream-store';
import { html, type SafeHtml } from '../http/html';
import type { TenantContext } from './dashboard';
import { auditDashboardChange } from './dashboard-audit';
import { redirect } from './dashboard-auth';
import { csrfField, dashboardPage, messagePage, tenantUrl, when } from './dashboard-layout';

/**
 * `GET /dashboard/t/<t>/upstreams` (admins and the operator): the tenant's upstreams with the
 * state of each replica (breaker, last health check, latency, open calls), the response cache's
 * counters, and a form to switch response caching on or off (`POST …/upstreams/<name>/cache`,
 * the same change and audit event as `PATCH /admin/api/tenants/<t>/upstreams/<name>`).
 * Registration stays with the admin API and the CLI. Every string goes through the escaping tag.
 */

interface ReplicaView {
  index: number;
  url: string;
  weight: number;
  breaker: { state: string; consecutiveFailures: number; openedAt: number | null };
  health: { checkedAt: number; ok: boolean; latencyMs: number; error?: string } | null;
  latencyMs: number | null;
  openCalls: number;
  era?: string | null;
}

interface StateView {
  breaker: { state: string } | null;
  replicas: ReplicaView[];
  responseCache?: ResponseCacheView;
}

const DONE: Record<string, string> = { cache: 'Response cache settings saved. Cached answers of the old settings were dropped.' };

function healthCell(h: ReplicaView['health']): SafeHtml {
  if (!h) return html`<span class="muted">not checked yet</span>`;
  return h.ok
    ? html`<span class="badge ok">passing</span> <span class="small muted">${when(h.checkedAt)}</span>`
    : html`<span class="badge bad">failing</span> <span class="small muted">${when(h.checkedAt)}</span><br><span class="small">${h.error ?? ''}</span>`;
}

function replicaTable(u: UpstreamRecord, replicas: ReplicaView[]): SafeHtml {
  // "Taken out" as /health counts it (gateway.replicas.down): the replica's breaker is open.
  const down = replicas.filter((r) => r.breaker.state === 'open').length;
  return html`<table data-replicas="${u.name}">
  <caption>Replicas of ${u.name}: ${replicas.length - down} in service, ${down} taken out (balance: ${u.balance})</caption>
  <thead><tr><th scope="col">#</th><th scope="col">URL</th><th scope="col">Weight</th><th scope="col">Breaker</th><th scope="col">Health check</th><th scope="col">Latency (ms, EWMA)</th><th scope="col">Open calls</th></tr></thead>
  <tbody>${replicas.map(
    (r) => html`<tr data-replica="${r.index}">
    <td class="num">${r.index + 1}</td><td><code>${r.url}</code>${r.era ? html`<br><span class="small muted">speaks ${r.era}</span>` : ''}</td><td class="num">${r.weight}</td>
    <td data-breaker="${r.breaker.state}"><span class="${r.breaker.state === 'closed' ? 'badge ok' : 'badge bad'}">${r.breaker.state === 'open' ? 'taken out' : r.breaker.state}</span>${r.breaker.consecutiveFailures ? html` <span class="small">${r.breaker.consecutiveFailures} failures in a row</span>` : ''}</td>
    <td>${healthCell(r.health)}</td><td class="num" data-latency>${r.latencyMs === null ? '—' : String(r.latencyMs)}</td><td class="num" data-open-calls>${r.openCalls}</td>
  </tr>`,
  )}</tbody>
</table>`;
}

function cacheSection(c: TenantContext, u: UpstreamRecord, counters: ResponseCacheView | undefined): SafeHtml {
  const s = u.settings.responseCache;
  const id = `cache-${u.name}`;
  const figures = counters
    ? html`<p class="small" data-cache-counters="${u.name}">Hits <strong data-hits>${counters.hits}</strong> · misses <strong data-misses>${counters.misses}</strong> · stored ${counters.stores} · evictions <strong data-evictions>${counters.evictions}</strong> · invalidations ${counters.invalidations} · now ${counters.entries} entries, ${Math.ceil(counters.bytes / 1024)} KiB</p>`
    : '';
  return html`<h3>Response cache</h3>
${figures}
<form method="post" action="${tenantUrl(c.tenant.id, 'upstreams', `/${u.name}/cache`)}" class="row">${csrfField(c.viewer)}
  <div><label for="${id}-enabled">Cache responses of ${u.name}</label><input id="${id}-enabled" name="enabled" type="checkbox" value="on"${s.enabled ? html` checked` : ''}></div>
  <div><label for="${id}-ttl">Cache lifetime of ${u.name} (minutes)</label><input id="${id}-ttl" name="ttlMinutes" type="number" min="${MIN_RESPONSE_TTL_MS / 60_000}" max="${MAX_RESPONSE_TTL_MS / 60_000}" value="${Math.round(s.ttlMs / 60_000)}" inputmode="numeric"></div>
  <div><label for="${id}-tools">Cached tools of ${u.name} (comma-separated upstream names)</label><input id="${id}-tools" name="tools" value="${s.tools.join(', ')}" maxlength="4000"></div>
  <div><button type="submit" aria-label="Save response cache settings of ${u.name}">Save</button></div>
</form>
<p class="small muted">Caches resources/read, prompts/get, and the listed tools while the upstream annotates them read-only and idempotent; per role, never across organizations.</p>`;
}

/** `GET /dashboard/t/<t>/upstreams`. */
export async function upstreamsPage(c: TenantContext): Promise<Response> {
  const upstreams = await listUpstreams(c.env.DB, c.tenant.id);
  const states = await Promise.all(
    upstreams.map(async (u) => {
      const key = { tenant: c.tenant.id, name: u.name };
      try {
        return (await upstreamStub(c.env, key).status(key)) as unknown as StateView;
      } catch {
        return null;
      }
    }),
  );
  const done = DONE[c.url.searchParams.get('done') ?? ''];
  const intro = html`<p>Remote MCP servers this organization put behind the platform. Register and change them with
<code>npm run smcp -- upstream …</code> or the admin API; each is served at <code>/servers/&lt;name&gt;/mcp</code>.</p>`;
  const panels = upstreams.map((u, i) => {
    const state = states[i];
    const breaker = state?.breaker?.state ?? u.breakerState;
    return html`<section class="panel" aria-labelledby="upstream-${u.name}" data-upstream="${u.name}">
  <h2 id="upstream-${u.name}">${u.name} <span class="${!u.enabled ? 'badge' : breaker === 'closed' ? 'badge ok' : 'badge bad'}">${!u.enabled ? 'disabled' : `breaker ${breaker}`}</span></h2>
  ${state ? replicaTable(u, state.replicas) : html`<p class="error">The upstream's state could not be read.</p>`}
  ${cacheSection(c, u, state?.responseCache)}
</section>`;
  });
  const banner = done ? html`<p class="notice" role="status">${done}</p>` : '';
  const body = html`${banner}${intro}${upstreams.length ? panels : html`<p>No upstreams registered.</p>`}`;
  return dashboardPage({ viewer: c.viewer, tenant: c.tenant, active: 'upstreams', title: 'Upstreams', body });
}

/** `POST /dashboard/t/<t>/upstreams/<name>/cache`: validated with the admin API's schema, applied through the same PATCH. */
export async function setResponseCache(c: TenantContext): Promise<Response> {
  const name = c.id;
  const form = c.form!;
  const minutes = Number(form.get('ttlMinutes') ?? MIN_RESPONSE_TTL_MS / 60_000);
  const tools = String(form.get('tools') ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const parsed = ResponseCacheSettingsSchema.safeParse({ enabled: form.get('enabled') === 'on', ttlMs: Math.round(minutes * 60_000), tools });
  if (!(await getUpstream(c.env.DB, c.tenant.id, name))) {
    await auditDashboardChange(c, c.tenant.id, 'admin.upstream.update', name, 'error', { status: 404 });
    return messagePage(c.viewer, 404, 'Not found', 'There is no such upstream.');
  }
  if (!parsed.success) {
    await auditDashboardChange(c, c.tenant.id, 'admin.upstream.update', name, 'error', { status: 400, error: 'invalid_request' });
    const issue = parsed.error.issues[0];
    return messagePage(c.viewer, 400, 'Not saved', `${issue?.path.join('.') || 'responseCache'}: ${issue?.message ?? 'invalid'}`);
  }
  const res = await patchUpstream(c.env, c.tenant.id, name, { settings: { responseCache: parsed.data } });
  const version = res.ok ? ((await res.json()) as { version?: number }).version : undefined;
  await auditDashboardChange(c, c.tenant.id, 'admin.upstream.update', name, res.ok ? 'ok' : 'error', {
    status: res.status,
    version,
    responseCache: parsed.data,
  });
  if (!res.ok) return messagePage(c.viewer, res.status, 'Not saved', 'The upstream could not be changed.');
  return redirect(tenantUrl(c.tenant.id, 'upstreams', '?done=cache'));
}
