import { CreateUserInput, createUserOp, deleteUserOp, PatchUserInput, updateUserOp } from '../admin/admin-operations';
import { html, type SafeHtml } from '../http/html';
import { ROLES, type User } from '../tenancy/model';
import { ConflictError, listUsers } from '../tenancy/tenant-store';
import type { TenantContext } from './dashboard';
import { auditDashboardChange } from './dashboard-audit';
import { redirect } from './dashboard-auth';
import { csrfField, dashboardPage, messagePage, tenantUrl, when } from './dashboard-layout';

/**
 * Users and roles (tenant admins and the operator only; the router refuses everyone else): add a
 * user, change a role, reset a password, remove a user. Role changes apply to the user's open MCP
 * sessions at once.
 */

const DONE: Record<string, string> = {
  role: 'Role changed. It applies to the user’s next request.',
  deleted: 'User removed. Their tokens stop working on the next request.',
  password: 'Password reset. Tell the user through a channel you trust; the old password no longer signs in.',
};

function userRow(c: TenantContext, u: User): SafeHtml {
  const base = tenantUrl(c.tenant.id, 'users', `/${u.id}`);
  const you = c.viewer.kind === 'user' && c.viewer.userId === u.id;
  return html`<tr data-user-id="${u.id}">
  <td>${u.email}${you ? html` <span class="badge">you</span>` : ''}</td><td>${u.role}</td><td>${when(u.createdAt)}</td>
  <td class="actions">
    <form method="post" action="${base}/role" class="inline">${csrfField(c.viewer)}
      <label for="role-${u.id}" class="visually-hidden">Role of ${u.email}</label>
      <select id="role-${u.id}" name="role">${ROLES.map((r) => html`<option value="${r}"${r === u.role ? html` selected` : ''}>${r}</option>`)}</select>
      <button type="submit">Change role</button></form>
    <form method="post" action="${base}/password" class="inline">${csrfField(c.viewer)}
      <label for="password-${u.id}" class="visually-hidden">New password for ${u.email}</label>
      <input id="password-${u.id}" name="password" type="password" required minlength="12" autocomplete="new-password" placeholder="New password">
      <button type="submit" aria-label="Reset the password of ${u.email}">Reset password</button></form>
    <form method="post" action="${base}/delete" class="inline">${csrfField(c.viewer)}<button type="submit" class="danger" aria-label="Remove ${u.email}">Remove</button></form>
  </td>
</tr>`;
}

async function render(c: TenantContext, opts: { banner?: SafeHtml; error?: string; status?: number; email?: string } = {}): Promise<Response> {
  const users = await listUsers(c.env.DB, c.tenant.id);
  const add = html`<section class="panel" aria-labelledby="add-title">
  <h2 id="add-title">Add a user</h2>
  ${opts.error ? html`<p class="error" role="alert">${opts.error}</p>` : ''}
  <form method="post" action="${tenantUrl(c.tenant.id, 'users')}" class="row">${csrfField(c.viewer)}
    <div><label for="user-email">Email</label><input id="user-email" name="email" type="email" required autocomplete="off" value="${opts.email ?? ''}"></div>
    <div><label for="user-password">Initial password</label><input id="user-password" name="password" type="password" required minlength="12" autocomplete="new-password" aria-describedby="pw-help"></div>
    <div><label for="user-role">Role</label><select id="user-role" name="role">${ROLES.map((r) => html`<option value="${r}"${r === 'member' ? html` selected` : ''}>${r}</option>`)}</select></div>
    <div><button type="submit">Add user</button></div>
  </form>
  <p id="pw-help" class="muted small">At least 12 characters, mixing three of: lower case, upper case, digits, symbols.</p>
</section>`;
  const roles = html`<p class="muted">Roles: <strong>admin</strong> manages the organization and may use every tool; <strong>member</strong> may use every tool of enabled servers; <strong>read-only</strong> only tools marked read-only.</p>`;
  const table = html`<table><caption>Users of ${c.tenant.name}</caption>
  <thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Added</th><th scope="col">Actions</th></tr></thead>
  <tbody>${users.map((u) => userRow(c, u))}</tbody></table>`;
  return dashboardPage({
    viewer: c.viewer,
    tenant: c.tenant,
    active: 'users',
    title: 'Users and roles',
    status: opts.status,
    body: html`${opts.banner ?? ''}${roles}${add}${table}`,
  });
}

/** `GET /dashboard/t/<t>/users`. */
export function usersPage(c: TenantContext): Promise<Response> {
  const done = DONE[c.url.searchParams.get('done') ?? ''];
  return render(c, { banner: done ? html`<p class="notice" role="status">${done}</p>` : undefined });
}

/** `POST /dashboard/t/<t>/users`. */
export async function createUser(c: TenantContext): Promise<Response> {
  const parsed = CreateUserInput.safeParse({ email: c.form?.get('email'), password: c.form?.get('password'), role: c.form?.get('role') });
  const email = String(c.form?.get('email') ?? '').slice(0, 254);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    await auditDashboardChange(c, c.tenant.id, 'admin.user.create', '', 'error', { status: 400 });
    return render(c, { error: `${issue?.path.join('.') || 'form'}: ${issue?.message ?? 'invalid'}`, status: 400, email });
  }
  try {
    const user = await createUserOp(c.env, c.actor, c.tenant.id, parsed.data);
    await auditDashboardChange(c, c.tenant.id, 'admin.user.create', user.id, 'ok', { role: user.role });
    return render(c, { banner: html`<p class="notice" role="status">Added ${user.email} as ${user.role}.</p>`, status: 201 });
  } catch (error) {
    if (error instanceof ConflictError) {
      await auditDashboardChange(c, c.tenant.id, 'admin.user.create', '', 'error', { status: 409 });
      return render(c, { error: 'This organization already has a user with this email.', status: 409, email });
    }
    throw error;
  }
}

/** `POST /dashboard/t/<t>/users/<id>/role`. */
export async function changeRole(c: TenantContext): Promise<Response> {
  const parsed = PatchUserInput.safeParse({ role: c.form?.get('role') });
  if (!parsed.success) {
    await auditDashboardChange(c, c.tenant.id, 'admin.user.update', c.id, 'error', { status: 400 });
    return render(c, { error: 'Choose a role from the list.', status: 400 });
  }
  const user = await updateUserOp(c.env, c.actor, c.tenant.id, c.id, parsed.data);
  await auditDashboardChange(c, c.tenant.id, 'admin.user.update', c.id, user ? 'ok' : 'denied', user ? { role: parsed.data.role } : { status: 404 });
  if (!user) return messagePage(c.viewer, 404, 'Not found', 'This organization has no such user.');
  return redirect(tenantUrl(c.tenant.id, 'users', '?done=role'));
}

/** `POST /dashboard/t/<t>/users/<id>/delete`. */
export async function deleteUser(c: TenantContext): Promise<Response> {
  const deleted = await deleteUserOp(c.env, c.actor, c.tenant.id, c.id);
  await auditDashboardChange(c, c.tenant.id, 'admin.user.delete', c.id, deleted ? 'ok' : 'denied', deleted ? {} : { status: 404 });
  if (!deleted) return messagePage(c.viewer, 404, 'Not found', 'This organization has no such user.');
  return redirect(tenantUrl(c.tenant.id, 'users', '?done=deleted'));
}

/**
 * `POST /dashboard/t/<t>/users/<id>/password`: a tenant admin (or the operator) sets a new password
 * for a user of the tenant, under the same password rules and audit action as `PATCH
 * /admin/api/tenants/<t>/users/<id>`; the audit event says a reset happened (`details.change`), never the password.
 */
export async function resetPassword(c: TenantContext): Promise<Response> {
  const parsed = PatchUserInput.safeParse({ password: c.form?.get('password') });
  if (!parsed.success) {
    await auditDashboardChange(c, c.tenant.id, 'admin.user.update', c.id, 'error', { status: 400, change: 'password-reset' });
    const issue = parsed.error.issues[0];
    return render(c, { error: `New password: ${issue?.message ?? 'invalid'}`, status: 400 });
  }
  const user = await updateUserOp(c.env, c.actor, c.tenant.id, c.id, parsed.data);
  await auditDashboardChange(c, c.tenant.id, 'admin.user.update', c.id, user ? 'ok' : 'denied', user ? { change: 'password-reset' } : { status: 404 });
  if (!user) return messagePage(c.viewer, 404, 'Not found', 'This organization has no such user.');
  return redirect(tenantUrl(c.tenant.id, 'users', '?done=password'));
}
