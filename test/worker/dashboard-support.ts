import { SELF } from 'cloudflare:test';
import { expect } from 'vitest';
import { FormBrowser, inputValue } from '../support/browser-forms';
import { OPERATOR, ORIGIN } from './platform-client';

/** The dashboard's base URL in worker tests. */
export const D = `${ORIGIN}/dashboard`;

/** Sign a tenant user in to the dashboard through its form; returns the browser, the page CSRF token and the landing page. */
export async function signedIn(account: { email: string; password: string }): Promise<{ browser: FormBrowser; csrf: string; home: string }> {
  const browser = new FormBrowser((input, init) => SELF.fetch(input, init));
  const form = await (await browser.get(`${D}/sign-in`)).text();
  const res = await browser.post(`${D}/sign-in`, { csrf: inputValue(form, 'csrf'), email: account.email, password: account.password });
  expect(res.status).toBe(303);
  const home = await browser.get(`${ORIGIN}${res.headers.get('location')}`);
  expect(home.status).toBe(303);
  const page = await browser.get(`${ORIGIN}${home.headers.get('location')}`);
  const html = await page.text();
  expect(page.status, html.slice(0, 300)).toBe(200);
  return { browser, csrf: inputValue(html, 'csrf'), home: `${ORIGIN}${home.headers.get('location')}` };
}

/** Sign the operator in to the dashboard with the operator token; returns the browser and the page CSRF token. */
export async function operatorSignedIn(): Promise<{ browser: FormBrowser; csrf: string }> {
  const browser = new FormBrowser((input, init) => SELF.fetch(input, init));
  const form = await (await browser.get(`${D}/operator/sign-in`)).text();
  const res = await browser.post(`${D}/operator/sign-in`, { csrf: inputValue(form, 'csrf'), token: OPERATOR });
  expect(res.status).toBe(303);
  expect(res.headers.get('location')).toBe('/dashboard/operator');
  const page = await (await browser.get(`${D}/operator`)).text();
  return { browser, csrf: inputValue(page, 'csrf') };
}
