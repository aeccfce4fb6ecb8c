import { alertsStub } from '../alerts/alerts-object';
import type { AlertRule } from '../alerts/alert-model';
import { html, type SafeHtml } from '../http/html';
import type { TenantContext } from './dashboard';
import { dashboardPage, when } from './dashboard-layout';

/**
 * `GET /dashboard/t/<t>/alerts` (admins and the operator): the tenant's alert rules with their
 * state and last value. Rules are created and changed with the admin API or the CLI
 * (`npm run smcp -- alert …`, docs/gateway.md), which show the signing secret once; this page never
 * shows it, and shows only the webhook's host.
 */
export async function alertsPage(c: TenantContext): Promise<Response> {
  const rules = await alertsStub(c.env, c.tenant.id).list();
  const intro = html`<p>
    Thresholds on this organization's servers and upstreams, evaluated every minute. A crossing and its recovery each send one signed
    webhook (see the gateway documentation for the <code>SMCP-Signature</code> header). Manage rules with
    <code>npm run smcp -- alert add|set|remove</code> or the admin API.
  </p>`;
  const table = rules.length
    ? html`<table>
        <caption>Alert rules</caption>
        <thead>
          <tr>
            <th scope="col">Server</th>
            <th scope="col">Metric</th>
            <th scope="col">Threshold</th>
            <th scope="col">Window</th>
            <th scope="col">State</th>
            <th scope="col">Last value</th>
            <th scope="col">Last evaluated</th>
            <th scope="col">Webhook host</th>
          </tr>
        </thead>
        <tbody>
          ${rules.map(row)}
        </tbody>
      </table>`
    : html`<p>No alert rules.</p>`;
  return dashboardPage({ viewer: c.viewer, tenant: c.tenant, active: 'alerts', title: 'Alerts', body: html`${intro}${table}` });
}

function row(r: AlertRule): SafeHtml {
  const state = !r.enabled ? 'disabled' : r.state === 'firing' ? 'FIRING' : 'ok';
  return html`<tr data-alert="${r.id}">
    <td>${r.server}</td>
    <td>${r.metric}</td>
    <td>${r.threshold}</td>
    <td>${r.windowMinutes} min</td>
    <td>${state}</td>
    <td>${r.lastValue === null ? '—' : String(Math.round(r.lastValue * 1000) / 1000)}</td>
    <td>${r.lastEvaluatedAt === null ? 'never' : when(r.lastEvaluatedAt)}</td>
    <td>${hostOf(r.webhookUrl)}</td>
  </tr>`;
}

const hostOf = (url: string) => {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
};
