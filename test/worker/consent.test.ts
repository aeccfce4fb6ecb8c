import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { FormBrowser, formAction, inputValue } from '../support/browser-forms';
import { authorizationRequest } from '../support/oauth-flow';
import { ORIGIN, registerClient, seedTenant } from './platform-client';

const browser = () => new FormBrowser((input, init) => SELF.fetch(input, init));

async function start(clientName = 'Consent Test Client') {
  const { accounts } = await seedTenant(['notes']);
  const client = await registerClient(clientName);
  const { url } = await authorizationRequest(ORIGIN, client, `${ORIGIN}/servers/notes/mcp`);
  const b = browser();
  const signIn = await b.get(url);
  return { b, url, client, account: accounts.member!, signIn, signInPage: await signIn.text() };
}

async function toConsent(clientName?: string) {
  const s = await start(clientName);
  const res = await s.b.post(formAction(s.signInPage, s.url), { csrf: inputValue(s.signInPage, 'csrf'), ...s.account });
  return { ...s, consent: res, consentPage: await res.text(), action: formAction(s.signInPage, s.url) };
}

describe('/authorize sign-in and consent', () => {
  it('serves a sign-in form with email and password inputs and strict browser headers', async () => {
    const { signIn, signInPage } = await start();
    expect(signIn.status).toBe(200);
    expect(signInPage).toMatch(/<input[^>]*name="email"/);
    expect(signInPage).toMatch(/<input[^>]*name="password"[^>]*type="password"|type="password"[^>]*name="password"/);
    const csp = signIn.headers.get('content-security-policy')!;
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(signIn.headers.get('x-frame-options')).toBe('DENY');
    expect(signIn.headers.get('x-content-type-options')).toBe('nosniff');
    expect(signIn.headers.get('strict-transport-security')).toContain('max-age=');
    expect(signIn.headers.get('set-cookie')).toMatch(/__Host-smcp-csrf=.*HttpOnly; Secure; SameSite=Lax/);
  });

  it('rejects a wrong password without saying whether the account exists', async () => {
    const s = await start();
    const wrong = await s.b.post(formAction(s.signInPage, s.url), {
      csrf: inputValue(s.signInPage, 'csrf'),
      email: s.account.email,
      password: 'Wrong-Password-123',
    });
    const again = await wrong.text();
    expect(again).toContain('Email or password is incorrect.');
    const nobody = await s.b.post(formAction(again, s.url), { csrf: inputValue(again, 'csrf'), email: 'nobody@example.test', password: 'Wrong-Password-123' });
    expect(wrong.status).toBe(401);
    expect(nobody.status).toBe(401);
    expect(await nobody.text()).toContain('Email or password is incorrect.');
  });

  it('refuses a sign-in post without the CSRF cookie', async () => {
    const s = await start();
    const res = await browser().post(formAction(s.signInPage, s.url), { csrf: inputValue(s.signInPage, 'csrf'), ...s.account });
    expect(res.status).toBe(403);
  });

  it('shows the escaped client name, the redirect host and the scopes, with approve and deny buttons', async () => {
    const { consent, consentPage } = await toConsent('<script>alert("x")</script> Evil & Co');
    expect(consent.status).toBe(200);
    expect(consentPage).not.toContain('<script>alert');
    expect(consentPage).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Evil &amp; Co');
    expect(consentPage).toContain('127.0.0.1');
    expect(consentPage).toContain('<code>mcp</code>');
    expect(consentPage).toMatch(/name="decision" value="approve"/);
    expect(consentPage).toMatch(/name="decision" value="deny"/);
    expect(consent.headers.get('content-security-policy')).toContain("form-action 'self' http://127.0.0.1:9");
  });

  it('redirects a denial back to the client with access_denied and the state', async () => {
    const { b, consentPage, action } = await toConsent();
    const res = await b.post(action, { handle: inputValue(consentPage, 'handle'), decision: 'deny' });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get('location')!);
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('state')).toBe('st-123');
  });

  it('approves with a code once, and refuses a forged, reused or foreign handle', async () => {
    const { b, consentPage, action } = await toConsent();
    const handle = inputValue(consentPage, 'handle');
    const forged = await b.post(action, { handle: `${handle}x`, decision: 'approve' });
    expect(forged.status).toBe(400);
    const stranger = await browser().post(action, { handle, decision: 'approve' });
    expect(stranger.status).toBe(403);
    const ok = await b.post(action, { handle, decision: 'approve' });
    expect(ok.status).toBe(302);
    expect(new URL(ok.headers.get('location')!).searchParams.get('code')).toBeTruthy();
    const again = await b.post(action, { handle, decision: 'approve' });
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.status).toBeLessThan(500);
  });

  it('renders an unknown client locally instead of redirecting', async () => {
    const res = await SELF.fetch(
      `${ORIGIN}/authorize?response_type=code&client_id=nope&redirect_uri=http://evil.example/cb&code_challenge=x&code_challenge_method=S256`,
      { redirect: 'manual' },
    );
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.get('content-type')).toContain('text/html');
  });
});
