import { html } from '../http/html';
import { queryMetrics } from '../metrics/metrics-query';
import type { TenantContext } from './dashboard';
import { dashboardPage, tenantUrl } from './dashboard-layout';

/**
 * Metrics: requests, errors and p50/p95/p99 latency per server over time (charts drawn by uPlot in
 * the browser from the data in the page), a table with the same figures for people who cannot or
 * would rather not read a chart, and the tenant's active sessions.
 */

/** Windows offered, with the bucket each uses (about 12 to 30 points per chart). */
const WINDOWS: Array<{ minutes: number; bucket: number; label: string }> = [
  { minutes: 60, bucket: 5, label: 'Last hour' },
  { minutes: 360, bucket: 15, label: 'Last 6 hours' },
  { minutes: 1440, bucket: 60, label: 'Last 24 hours' },
  { minutes: 10_080, bucket: 360, label: 'Last 7 days' },
];

const ms = (v: number | null) => (v === null ? '—' : String(v));

/** `GET /dashboard/t/<t>/metrics?window=<minutes>`. */
export async function metricsPage(c: TenantContext): Promise<Response> {
  const requested = Number(c.url.searchParams.get('window') ?? 60);
  const window = WINDOWS.find((w) => w.minutes === requested) ?? WINDOWS[0]!;
  const m = await queryMetrics(c.env, { tenant: c.tenant.id, since: c.tenant.createdAt, windowMinutes: window.minutes, bucketMinutes: window.bucket });
  const chartData = {
    from: m.from,
    to: m.to,
    bucketMs: window.bucket * 60_000,
    servers: [...new Set(m.servers.map((s) => s.server))].sort(),
    series: m.series,
  };
  const picker = html`<form method="get" action="${tenantUrl(c.tenant.id, 'metrics')}" class="row">
  <div><label for="window">Time window</label><select id="window" name="window">${WINDOWS.map((w) => html`<option value="${w.minutes}"${w === window ? html` selected` : ''}>${w.label}</option>`)}</select></div>
  <div><button type="submit">Show</button></div>
</form>`;
  const summary = m.servers.length
    ? html`<table><caption>Per server, ${window.label.toLowerCase()}</caption>
<thead><tr><th scope="col">Server</th><th scope="col">Requests</th><th scope="col">Errors</th><th scope="col">Denials</th><th scope="col">Rate limited</th><th scope="col">p50 (ms)</th><th scope="col">p95 (ms)</th><th scope="col">p99 (ms)</th></tr></thead>
<tbody>${m.servers.map((s) => html`<tr><td>${s.server}</td><td class="num">${s.requests}</td><td class="num">${s.errors}</td><td class="num">${s.denials}</td><td class="num">${s.rateLimited}</td><td class="num">${ms(s.p50)}</td><td class="num">${ms(s.p95)}</td><td class="num">${ms(s.p99)}</td></tr>`)}</tbody></table>`
    : html`<p>No MCP requests in this window yet.</p>`;
  const charts = m.series.length
    ? html`<div id="metrics-charts" class="charts" data-metrics="${JSON.stringify(chartData)}">
  <figure><figcaption id="chart-requests-title">Requests per ${window.bucket} min, by server</figcaption><div class="chart" id="chart-requests" role="img" aria-labelledby="chart-requests-title"></div></figure>
  <figure><figcaption id="chart-errors-title">Errors per ${window.bucket} min, by server</figcaption><div class="chart" id="chart-errors" role="img" aria-labelledby="chart-errors-title"></div></figure>
  ${chartData.servers.map((s) => html`<figure><figcaption id="chart-latency-${s}-title">Latency of ${s} (ms): p50, p95, p99</figcaption><div class="chart" data-latency-server="${s}" role="img" aria-labelledby="chart-latency-${s}-title"></div></figure>`)}
</div>`
    : '';
  const body = html`${picker}
<p class="stat">Active sessions (a request within the idle timeout): <strong id="active-sessions">${m.activeSessions}</strong></p>
${charts}${summary}`;
  return dashboardPage({ viewer: c.viewer, tenant: c.tenant, active: 'metrics', title: 'Metrics', body, charts: true });
}
