import { CreateKeyInput, createKeyOp, PatchKeyInput, revokeKeyOp, rotateKeyOp, setKeyLimitsOp } from '../admin/admin-operations';
import { keysWithUsage, type KeyWithUsage } from '../admin/key-usage';
import { html, type SafeHtml } from '../http/html';
import { DEFAULT_ROTATION_GRACE_HOURS, type ApiKey } from '../tenancy/api-keys';
import { ROLES } from '../tenancy/model';
import type { TenantContext } from './dashboard';
import { auditDashboardChange } from './dashboard-audit';
import { redirect } from './dashboard-auth';
import { csrfField, dashboardPage, messagePage, tenantUrl, when } from './dashboard-layout';

/**
 * API keys: create (the secret is shown once, with a copy button), list with last use, expiry,
 * request counts (this minute, hour, UTC day, in total) and the key's own request limits (set or
 * back to the tenant default), rotate (with a grace period), revoke. Changes go through the same
 * operations as the admin API.
 */

const GRACE_CHOICES = [0, 1, 24, 72, 168];

function keyState(k: ApiKey, now: number): { label: string; cls: string; usable: boolean } {
  if (k.revokedAt !== null) return { label: 'Revoked', cls: 'badge bad', usable: false };
  if (k.expiresAt !== null && k.expiresAt <= now) return { label: 'Expired', cls: 'badge bad', usable: false };
  if (k.replacedBy !== null) return { label: 'Rotated out', cls: 'badge warn', usable: false };
  return { label: 'Active', cls: 'badge ok', usable: true };
}

const LIMIT_FIELDS = [
  ['perMinute', 'a minute', 'credentialPerMinute'],
  ['perHour', 'an hour', 'credentialPerHour'],
  ['perDay', 'a day', 'credentialPerDay'],
] as const;

function limitsCell(c: TenantContext, k: KeyWithUsage, usable: boolean): SafeHtml {
  const shown = LIMIT_FIELDS.map(
    ([field, per, tenantField]) => html`<span class="small">${k.limits[field] ?? html`${c.tenant.limits[tenantField]} (default)`} ${per}</span><br>`,
  );
  if (!usable) return html`${shown}`;
  const inputs = LIMIT_FIELDS.map(
    ([field, per, tenantField]) =>
      html`<label for="${field}-${k.id}" class="small">Per ${per.replace(/^an? /, '')}</label><input id="${field}-${k.id}" name="${field}" type="number" min="1" inputmode="numeric" value="${k.limits[field] ?? ''}" placeholder="${c.tenant.limits[tenantField]}">`,
  );
  return html`${shown}<details><summary class="small">Change</summary><form method="post" action="${tenantUrl(c.tenant.id, 'keys', `/${k.id}/limits`)}">${csrfField(c.viewer)}${inputs}<p class="small muted">Empty = the organization's default.</p><button type="submit">Save limits</button></form></details>`;
}

function keyRow(c: TenantContext, k: KeyWithUsage, now: number): SafeHtml {
  const state = keyState(k, now);
  const base = tenantUrl(c.tenant.id, 'keys', `/${k.id}`);
  const actions = state.usable
    ? html`<form method="post" action="${base}/rotate" class="inline">${csrfField(c.viewer)}
    <label for="grace-${k.id}">Old key works for</label>
    <select id="grace-${k.id}" name="graceHours">${GRACE_CHOICES.map((h) => html`<option value="${h}"${h === DEFAULT_ROTATION_GRACE_HOURS ? html` selected` : ''}>${h === 0 ? 'no grace' : `${h} h`}</option>`)}</select>
    <button type="submit">Rotate</button></form>
  <form method="post" action="${base}/revoke" class="inline">${csrfField(c.viewer)}<button type="submit" class="danger" aria-label="Revoke key ${k.name} (${k.id})">Revoke</button></form>`
    : html`<span class="muted">—</span>`;
  return html`<tr data-key-id="${k.id}">
  <td>${k.name}<br><code class="small">${k.id}</code></td><td>${k.role}</td><td><span class="${state.cls}">${state.label}</span>${k.replacedBy ? html`<br><span class="small muted">by ${k.replacedBy}</span>` : ''}</td>
  <td>${when(k.createdAt)}</td><td>${when(k.expiresAt)}</td><td>${k.lastUsedAt ? when(k.lastUsedAt) : 'never'}</td>
  <td class="usage" data-usage="${k.usage.minute}/${k.usage.hour}/${k.usage.day}/${k.usage.total}"><span class="small">${k.usage.minute} this minute<br>${k.usage.hour} this hour<br>${k.usage.day} today<br>${k.usage.total} in total</span></td>
  <td>${limitsCell(c, k, state.usable)}</td><td class="actions">${actions}</td>
</tr>`;
}

function secretBox(title: string, key: string, note: string): SafeHtml {
  return html`<section class="panel secret" aria-labelledby="secret-title" role="status">
  <h2 id="secret-title">${title}</h2>
  <p><strong>Copy this key now. It will not be shown again.</strong> ${note}</p>
  <div class="snippet-head"><pre><code id="new-key">${key}</code></pre><button type="button" class="copy" data-copy="new-key">Copy key</button></div>
</section>`;
}

async function render(c: TenantContext, opts: { banner?: SafeHtml; error?: string; status?: number } = {}): Promise<Response> {
  const keys = await keysWithUsage(c.env, c.tenant.id);
  const now = Date.now();
  const create = html`<section class="panel" aria-labelledby="create-title">
  <h2 id="create-title">Create a key</h2>
  ${opts.error ? html`<p class="error" role="alert">${opts.error}</p>` : ''}
  <form method="post" action="${tenantUrl(c.tenant.id, 'keys')}" class="row">${csrfField(c.viewer)}
    <div><label for="key-name">Name</label><input id="key-name" name="name" required maxlength="100"></div>
    <div><label for="key-role">Role</label><select id="key-role" name="role">${ROLES.map((r) => html`<option value="${r}"${r === 'member' ? html` selected` : ''}>${r}</option>`)}</select></div>
    <div><label for="key-expiry">Expires in days (empty = never)</label><input id="key-expiry" name="expiresInDays" type="number" min="1" max="3650" inputmode="numeric"></div>
    <div><button type="submit">Create key</button></div>
  </form>
</section>`;
  const table = keys.length
    ? html`<table><caption>Keys of ${c.tenant.name}</caption>
  <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">Requests</th><th scope="col">Limits</th><th scope="col">Actions</th></tr></thead>
  <tbody>${keys.map((k) => keyRow(c, k, now))}</tbody></table>`
    : html`<p>No keys yet.</p>`;
  return dashboardPage({
    viewer: c.viewer,
    tenant: c.tenant,
    active: 'keys',
    title: 'API keys',
    status: opts.status,
    body: html`${opts.banner ?? ''}${create}${table}`,
  });
}

/** `GET /dashboard/t/<t>/keys`. */
export function keysPage(c: TenantContext): Promise<Response> {
  const done = c.url.searchParams.get('done');
  const banner =
    done === 'revoked'
      ? html`<p class="notice" role="status">Key revoked. It is refused from the next request on.</p>`
      : done === 'limits'
        ? html`<p class="notice" role="status">Limits saved. They apply from the key's next request.</p>`
        : undefined;
  return render(c, { banner });
}

/** `POST /dashboard/t/<t>/keys`: create, then show the secret once (this response is never cached). */
export async function createKey(c: TenantContext): Promise<Response> {
  const days = String(c.form?.get('expiresInDays') ?? '').trim();
  const parsed = CreateKeyInput.safeParse({
    name: c.form?.get('name'),
    role: c.form?.get('role'),
    ...(days ? { expiresInDays: Number(days) } : {}),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    await auditDashboardChange(c, c.tenant.id, 'admin.key.create', '', 'error', { status: 400 });
    return render(c, { error: `${issue?.path.join('.') || 'form'}: ${issue?.message ?? 'invalid'}`, status: 400 });
  }
  const { key, record } = await createKeyOp(c.env, c.actor, c.tenant.id, parsed.data);
  await auditDashboardChange(c, c.tenant.id, 'admin.key.create', record.id, 'ok', { role: record.role });
  return render(c, { banner: secretBox(`Key "${record.name}" created`, key, `Use it as "Authorization: Bearer <key>" (role ${record.role}).`), status: 201 });
}

/** `POST /dashboard/t/<t>/keys/<id>/revoke`. */
export async function revokeKey(c: TenantContext): Promise<Response> {
  const revoked = await revokeKeyOp(c.env, c.actor, c.tenant.id, c.id);
  await auditDashboardChange(c, c.tenant.id, 'admin.key.revoke', c.id, revoked ? 'ok' : 'denied', revoked ? {} : { status: 404 });
  if (!revoked) return messagePage(c.viewer, 404, 'Not found', 'This organization has no such key.');
  return redirect(tenantUrl(c.tenant.id, 'keys', '?done=revoked'));
}

/** `POST /dashboard/t/<t>/keys/<id>/rotate`: a new key (shown once); the old one works for the chosen grace. */
export async function rotateKey(c: TenantContext): Promise<Response> {
  const grace = Number(c.form?.get('graceHours') ?? DEFAULT_ROTATION_GRACE_HOURS);
  if (!GRACE_CHOICES.includes(grace)) {
    await auditDashboardChange(c, c.tenant.id, 'admin.key.rotate', c.id, 'error', { status: 400 });
    return render(c, { error: 'Choose a grace period from the list.', status: 400 });
  }
  const rotated = await rotateKeyOp(c.env, c.actor, c.tenant.id, c.id, grace);
  await auditDashboardChange(
    c,
    c.tenant.id,
    'admin.key.rotate',
    c.id,
    rotated ? 'ok' : 'denied',
    rotated ? { replacement: rotated.record.id, graceHours: grace } : { status: 404 },
  );
  if (!rotated) return messagePage(c.viewer, 404, 'Not found', 'This key does not exist, or was revoked, expired or already rotated.');
  return render(c, {
    banner: secretBox(`Key "${rotated.record.name}" rotated`, rotated.key, `The old key stops working at ${when(rotated.oldExpiresAt)}.`),
    status: 201,
  });
}

/** `POST /dashboard/t/<t>/keys/<id>/limits`: the key's own per-minute/hour/day limits (empty = tenant default). */
export async function setKeyLimits(c: TenantContext): Promise<Response> {
  const field = (name: string) => {
    const v = String(c.form?.get(name) ?? '').trim();
    return v === '' ? null : Number(v);
  };
  const parsed = PatchKeyInput.safeParse({ limits: { perMinute: field('perMinute'), perHour: field('perHour'), perDay: field('perDay') } });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    await auditDashboardChange(c, c.tenant.id, 'admin.key.limits', c.id, 'error', { status: 400 });
    return render(c, {
      error: `${issue?.path.slice(1).join('.') || 'limits'}: ${issue?.message ?? 'invalid'} (whole numbers from 1, or empty for the default)`,
      status: 400,
    });
  }
  const key = await setKeyLimitsOp(c.env, c.actor, c.tenant.id, c.id, parsed.data.limits);
  await auditDashboardChange(c, c.tenant.id, 'admin.key.limits', c.id, key ? 'ok' : 'denied', key ? { limits: key.limits } : { status: 404 });
  if (!key) return messagePage(c.viewer, 404, 'Not found', 'This organization has no such key.');
  return redirect(tenantUrl(c.tenant.id, 'keys', '?done=limits'));
}
