import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { FormBrowser, inputValue } from '../support/browser-forms';
import { waitForEvents } from './audit-support';
import { ORIGIN, PASSWORD, adminCall, createKey, createTenant, obtainToken, openSession } from './platform-client';

/**
 * Finding 13 of the security review: with emails unique across the platform, a tenant admin learnt
 * whether an address existed in another tenant (409 vs 201) and could take it before its tenant
 * did. Emails are now unique per tenant; sign-in finds the tenant from the email, or from the
 * optional organization field when the address belongs to several.
 */

const D = `${ORIGIN}/dashboard`;
const OTHER_PASSWORD = 'Other-Horse-Battery-77';

/** Sign in to the dashboard; returns the status and where it led (the tenant's pages on success). */
async function dashboardSignIn(fields: Record<string, string>): Promise<{ status: number; tenantPage: string | null; text: string }> {
  const browser = new FormBrowser((input, init) => SELF.fetch(input, init));
  const form = await (await browser.get(`${D}/sign-in`)).text();
  const res = await browser.post(`${D}/sign-in`, { csrf: inputValue(form, 'csrf'), ...fields });
  if (res.status !== 303) return { status: res.status, tenantPage: null, text: await res.text() };
  const home = await browser.get(`${ORIGIN}${res.headers.get('location')}`);
  return { status: 303, tenantPage: home.headers.get('location'), text: '' };
}

describe('emails are unique per tenant (security review finding 13)', () => {
  it('gives a tenant admin the same answer whether or not an address exists in another tenant, for every spelling', async () => {
    const victim = await createTenant(['notes']);
    const prober = await createTenant(['notes']);
    const proberAdmin = (await createKey(prober, 'admin')).key;
    const local = `ceo-${crypto.randomUUID().slice(0, 6)}`;
    const address = `${local}@victim.test`;
    expect((await adminCall('POST', `/tenants/${victim}/users`, { email: address, password: PASSWORD, role: 'admin' })).status).toBe(201);

    const spellings = [address, address.toUpperCase(), `  ${address}\t`, `${local.replace('c', 'ｃ')}@victim.test`, `${local}@ＶＩＣＴＩＭ.test`];
    const answers: Array<{ status: number; keys: string[] }> = [];
    for (const [i, spelling] of spellings.entries()) {
      // A fresh prober tenant per spelling, so each probe is a first creation there.
      const tenant = i === 0 ? prober : await createTenant([]);
      const bearer = i === 0 ? proberAdmin : (await createKey(tenant, 'admin')).key;
      const taken = await adminCall('POST', `/tenants/${tenant}/users`, { email: spelling, password: PASSWORD, role: 'member' }, bearer);
      const fresh = await adminCall(
        'POST',
        `/tenants/${tenant}/users`,
        { email: `nobody-${crypto.randomUUID().slice(0, 6)}@victim.test`, password: PASSWORD, role: 'member' },
        bearer,
      );
      expect(taken.status, spelling).toBe(fresh.status);
      expect(Object.keys(taken.body).sort(), spelling).toEqual(Object.keys(fresh.body).sort());
      expect(taken.status, spelling).toBe(201);
      expect(taken.body.email, spelling).toBe(address);
      answers.push({ status: taken.status, keys: Object.keys(taken.body).sort() });
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);

    // Within one tenant every spelling is the same address.
    for (const spelling of spellings) {
      const dup = await adminCall('POST', `/tenants/${prober}/users`, { email: spelling, password: PASSWORD, role: 'member' }, proberAdmin);
      expect(dup.status, spelling).toBe(409);
    }
  });

  it('cannot take an address before its tenant does', async () => {
    const squatter = await createTenant(['notes']);
    const owner = await createTenant(['notes']);
    const address = `new-hire-${crypto.randomUUID().slice(0, 6)}@owner.test`;
    expect(
      (
        await adminCall(
          'POST',
          `/tenants/${squatter}/users`,
          { email: address, password: OTHER_PASSWORD, role: 'admin' },
          (await createKey(squatter, 'admin')).key,
        )
      ).status,
    ).toBe(201);
    expect((await adminCall('POST', `/tenants/${owner}/users`, { email: address, password: PASSWORD, role: 'member' })).status).toBe(201);
    // The real user signs in with their own password and lands in their own tenant.
    const signedIn = await dashboardSignIn({ email: address, password: PASSWORD });
    expect(signedIn.tenantPage).toBe(`/dashboard/t/${owner}/servers`);
    const token = await obtainToken({ email: address, password: PASSWORD }, 'notes');
    expect(await openSession('notes', token.access_token)).toBeTruthy();
    // Sign-in events reach the owner's trail asynchronously (outbox, then the tenant's store).
    const own = await waitForEvents(owner, 'action=auth.sign_in', (events) => events.length > 0);
    expect(own.length).toBeGreaterThan(0);
  });

  it('signs in by email alone when the password picks one account, and asks for the organization otherwise', async () => {
    const a = await createTenant(['notes']);
    const b = await createTenant(['notes']);
    const address = `shared-${crypto.randomUUID().slice(0, 6)}@both.test`;
    expect((await adminCall('POST', `/tenants/${a}/users`, { email: address, password: PASSWORD, role: 'admin' })).status).toBe(201);
    expect((await adminCall('POST', `/tenants/${b}/users`, { email: address, password: OTHER_PASSWORD, role: 'admin' })).status).toBe(201);
    expect((await dashboardSignIn({ email: address, password: PASSWORD })).tenantPage).toBe(`/dashboard/t/${a}/servers`);
    expect((await dashboardSignIn({ email: address, password: OTHER_PASSWORD })).tenantPage).toBe(`/dashboard/t/${b}/servers`);
    expect((await dashboardSignIn({ email: address.toUpperCase(), password: OTHER_PASSWORD, organization: ` ${b.toUpperCase()} ` })).tenantPage).toBe(
      `/dashboard/t/${b}/servers`,
    );
    // The right password with another tenant named is a plain failure.
    const wrongOrg = await dashboardSignIn({ email: address, password: PASSWORD, organization: b });
    expect(wrongOrg.status).toBe(401);
    expect(wrongOrg.text).toContain('Email, password or organization is incorrect.');
    expect((await dashboardSignIn({ email: address, password: PASSWORD, organization: 'Not An Id!' })).status).toBe(401);

    // Same password in both: the form asks for the organization, then it works.
    expect(
      (await adminCall('PATCH', `/tenants/${b}/users/${(await adminCall('GET', `/tenants/${b}/users`)).body.users[0].id}`, { password: PASSWORD })).status,
    ).toBe(200);
    const ambiguous = await dashboardSignIn({ email: address, password: PASSWORD });
    expect(ambiguous.status).toBe(401);
    expect(ambiguous.text).toContain('belongs to several organizations');
    expect(ambiguous.text).toContain('name="organization"');
    expect((await dashboardSignIn({ email: address, password: PASSWORD, organization: b })).tenantPage).toBe(`/dashboard/t/${b}/servers`);

    // The same through /authorize, with the real OAuth flow.
    const token = await obtainToken({ email: address, password: PASSWORD, organization: a }, 'notes');
    expect(await openSession('notes', token.access_token)).toBeTruthy();
    await expect(obtainToken({ email: address, password: PASSWORD }, 'notes')).rejects.toThrow(/sign-in failed: 401.*|several organizations/s);
  });
});
