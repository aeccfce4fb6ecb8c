import { env, SELF } from 'cloudflare:test';
import { afterAll, describe, expect, it } from 'vitest';
import { FormBrowser, inputValue } from '../support/browser-forms';
import { auditQuery } from './audit-support';
import { OPERATOR, ORIGIN, seedTenant } from './platform-client';

/**
 * Finding 5 of the security review: the dashboard's sign-in forms had no back-off (40 wrong
 * passwords in 1.5 s, then the right one accepted; operator-token guesses never throttled). Both
 * forms now use `/authorize`'s guard: exact back-off per account (one key for the operator token)
 * and per IP, a 429 HTML page with Retry-After, and one audit event per refusal window.
 */

const D = `${ORIGIN}/dashboard`;
let ipCounter = Math.floor(Math.random() * 200);
const freshIp = () => `203.0.113.${(ipCounter++ % 250) + 1}`;

/** A form browser whose requests come from `ip()` (read per request, so a test can rotate it). */
function browserFrom(ip: () => string): FormBrowser {
  return new FormBrowser((input, init) => SELF.fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), 'cf-connecting-ip': ip() } }));
}

async function post(b: FormBrowser, form: 'sign-in' | 'operator/sign-in', fields: Record<string, string>): Promise<Response> {
  const page = await (await b.get(`${D}/${form}`)).text();
  return b.post(`${D}/${form}`, { csrf: inputValue(page, 'csrf'), ...fields });
}

async function expectThrottledPage(res: Response): Promise<void> {
  expect(res.status).toBe(429);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(res.headers.get('content-type')).toContain('text/html');
  expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  expect(await res.text()).toContain('Too many sign-in attempts');
}

/** Platform-level audit events of one action from one IP, once delivered. */
async function limitEvents(action: string, ip: string): Promise<any[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await auditQuery(`/audit?tenant=_platform&action=${action}&limit=5000`);
    expect(res.status).toBe(200);
    const events = res.body.events.filter((e: any) => e.ip === ip);
    if (events.length > 0 || Date.now() > deadline) return events;
    await new Promise((r) => setTimeout(r, 250));
  }
}

afterAll(async () => {
  // The operator key is global: leave it unlocked for whatever runs next in this workerd.
  await env.TENANT_LIMITER.get(env.TENANT_LIMITER.idFromName('signin-operator')).backoffReset();
});

describe('dashboard account sign-in back-off (review finding 5)', () => {
  it('throttles an account after 5 wrong passwords from one IP, and then refuses even the right password', async () => {
    const { accounts } = await seedTenant(['notes'], ['admin']);
    const account = accounts.admin!;
    const ip = freshIp();
    const b = browserFrom(() => ip);
    const statuses: number[] = [];
    let throttled: Response | undefined;
    for (let i = 0; i < 40 && !throttled; i++) {
      const res = await post(b, 'sign-in', { email: account.email, password: `Wrong-Password-${i}x` });
      statuses.push(res.status);
      if (res.status === 429) throttled = res;
    }
    expect(statuses.slice(0, 6)).toEqual([401, 401, 401, 401, 401, 401]);
    await expectThrottledPage(throttled!);
    const right = await post(b, 'sign-in', { email: account.email, password: account.password });
    await expectThrottledPage(right);
    // Audited: limit events for this IP, and no session was created.
    expect(right.headers.getSetCookie().some((c) => c.startsWith('__Host-smcp-dash=') && !/max-age=0/i.test(c))).toBe(false);
    const events = await limitEvents('limit.signin_account', ip);
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events.reduce((n: number, e: any) => n + (e.details?.count ?? 1), 0)).toBe(2);
    expect(events[0]).toMatchObject({ result: 'rate_limited', user: account.email });
  });

  it('keys the account by its normalised email: case and spacing changes from many IPs share one back-off', async () => {
    const { accounts } = await seedTenant(['notes'], ['admin']);
    const account = accounts.admin!;
    const spellings = [account.email.toUpperCase(), ` ${account.email} `, account.email.replace(/^./, (c) => c.toUpperCase())];
    let throttled: Response | undefined;
    for (let i = 0; i < 12 && !throttled; i++) {
      const res = await post(browserFrom(freshIp), 'sign-in', { email: spellings[i % spellings.length]!, password: `Wrong-Password-${i}x` });
      if (res.status === 429) throttled = res;
      else expect(res.status).toBe(401);
    }
    await expectThrottledPage(throttled!);
    await expectThrottledPage(await post(browserFrom(freshIp), 'sign-in', { email: account.email, password: account.password }));
  });

  it('throttles one IP trying many accounts (alternating), by the per-IP back-off', async () => {
    const { accounts } = await seedTenant(['notes'], ['admin', 'member']);
    const ip = freshIp();
    const b = browserFrom(() => ip);
    const emails = [accounts.admin!.email, accounts.member!.email, 'nobody-1@example.com', 'nobody-2@example.com'];
    let throttled: Response | undefined;
    let attempts = 0;
    while (!throttled && attempts < 40) {
      // Four accounts in turn: each stays under its own 5 free failures until the IP has used its 20.
      const res = await post(b, 'sign-in', { email: emails[attempts % emails.length]!, password: `Wrong-Password-${attempts}x` });
      attempts++;
      if (res.status === 429) throttled = res;
    }
    expect(attempts).toBeLessThanOrEqual(22);
    await expectThrottledPage(throttled!);
    // The same IP cannot sign in to a fourth, untouched account either, while another IP can.
    const other = await seedTenant(['notes'], ['admin']);
    await expectThrottledPage(await post(b, 'sign-in', { email: other.accounts.admin!.email, password: other.accounts.admin!.password }));
    expect((await post(browserFrom(freshIp), 'sign-in', { email: other.accounts.admin!.email, password: other.accounts.admin!.password })).status).toBe(303);
  });

  it('a success before the limit clears the account, as on /authorize', async () => {
    const { accounts } = await seedTenant(['notes'], ['admin']);
    const account = accounts.admin!;
    const b = browserFrom(freshIp);
    for (let i = 0; i < 4; i++) expect((await post(b, 'sign-in', { email: account.email, password: `Wrong-Password-${i}x` })).status).toBe(401);
    expect((await post(browserFrom(freshIp), 'sign-in', { email: account.email, password: account.password })).status).toBe(303);
    for (let i = 0; i < 5; i++)
      expect((await post(browserFrom(freshIp), 'sign-in', { email: account.email, password: `Wrong-Password-${i}y` })).status).toBe(401);
  });
});

describe('dashboard operator sign-in back-off (review finding 5)', () => {
  it('throttles operator-token guesses globally (one key, whatever the IP) and per IP, then refuses the right token', async () => {
    const limiter = env.TENANT_LIMITER.get(env.TENANT_LIMITER.idFromName('signin-operator'));
    await limiter.backoffReset();
    let throttled: Response | undefined;
    const guesses: number[] = [];
    for (let i = 0; i < 40 && !throttled; i++) {
      const res = await post(browserFrom(freshIp), 'operator/sign-in', { token: `guess-${i}-${'x'.repeat(20)}` });
      guesses.push(res.status);
      if (res.status === 429) throttled = res;
    }
    expect(guesses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    await expectThrottledPage(throttled!);
    const ip = freshIp();
    const right = await post(
      browserFrom(() => ip),
      'operator/sign-in',
      { token: OPERATOR },
    );
    await expectThrottledPage(right);
    const events = await limitEvents('limit.signin_account', ip);
    expect(events[0]).toMatchObject({ result: 'rate_limited', user: 'operator' });

    // Once the wait is over (reset here rather than slept through), the right token works and clears the key.
    await limiter.backoffReset();
    const ok = await post(browserFrom(freshIp), 'operator/sign-in', { token: OPERATOR });
    expect(ok.status).toBe(303);
  });

  it('per IP: one address guessing past its free attempts is refused even with the global key clear', async () => {
    const limiter = env.TENANT_LIMITER.get(env.TENANT_LIMITER.idFromName('signin-operator'));
    const ip = freshIp();
    const b = browserFrom(() => ip);
    let throttled: Response | undefined;
    for (let i = 0; i < 30 && !throttled; i++) {
      await limiter.backoffReset(); // isolate the per-IP layer
      const res = await post(b, 'operator/sign-in', { token: `guess-${i}` });
      if (res.status === 429) throttled = res;
    }
    await expectThrottledPage(throttled!);
    await limiter.backoffReset();
    await expectThrottledPage(await post(b, 'operator/sign-in', { token: OPERATOR }));
  });
});
