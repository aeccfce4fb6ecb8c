import { html, type SafeHtml } from '../http/html';
import { EmailSchema, TenantIdSchema, type User } from '../tenancy/model';
import { authenticate } from '../tenancy/tenant-store';

/**
 * Who a sign-in form names, shared by `/authorize` and the dashboard. Emails are unique per tenant,
 * so the forms carry an optional organization (tenant id) field: left empty, the email decides
 * (the usual case: one account per address); filled in, only that tenant's account is tried.
 */

/** The result of checking a sign-in form; `email` is the normalised address when it parsed (for back-off and the audit trail). */
export type SignInCheck =
  { outcome: 'ok'; user: User; email: string } | { outcome: 'failed' | 'ambiguous'; email: string | null; organization: string | null; message: string };

/** The organization field of both sign-in forms, pre-filled after a failure. */
export function organizationField(value?: string | null): SafeHtml {
  return html`<label for="organization">Organization <span class="muted">(optional: needed only if your email belongs to several)</span></label>
  <input id="organization" name="organization" autocomplete="organization" maxlength="32" value="${value ?? ''}">`;
}

/** Check the form's email, password and optional organization (never throws for bad input). */
export async function checkSignIn(db: D1Database, form: FormData): Promise<SignInCheck> {
  const email = EmailSchema.safeParse(form.get('email'));
  const password = form.get('password');
  const rawOrganization = String(form.get('organization') ?? '')
    .trim()
    .toLowerCase();
  const organization = rawOrganization === '' ? null : TenantIdSchema.safeParse(rawOrganization).success ? rawOrganization : undefined;
  const address = email.success ? email.data : null;
  const failed = (message: string): SignInCheck => ({ outcome: 'failed', email: address, organization: organization ?? rawOrganization.slice(0, 32), message });
  const incorrect = organization ? 'Email, password or organization is incorrect.' : 'Email or password is incorrect.';
  if (!email.success || typeof password !== 'string' || password.length > 256 || organization === undefined) return failed(incorrect);
  const user = await authenticate(db, email.data, password, organization ?? undefined);
  if (user === 'ambiguous') {
    return {
      outcome: 'ambiguous',
      email: address,
      organization: null,
      message: 'This email belongs to several organizations: enter your organization id as well.',
    };
  }
  return user ? { outcome: 'ok', user, email: email.data } : failed(incorrect);
}
