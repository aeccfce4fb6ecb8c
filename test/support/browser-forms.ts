/**
 * A minimal "browser" for the platform's HTML forms, for tests that must sign in and consent the
 * way a person would: it keeps cookies, reads hidden inputs out of the served page and posts the
 * forms back. Nothing here knows platform internals; it only sees HTML and HTTP.
 */
export class FormBrowser {
  private readonly cookies = new Map<string, string>();

  private readonly fetcher: (input: string, init?: RequestInit) => Promise<Response>;

  /** `fetcher` is the global fetch in Node, or `SELF.fetch` inside workerd. */
  constructor(fetcher: (input: string, init?: RequestInit) => Promise<Response> = fetch) {
    this.fetcher = fetcher;
  }

  private absorb(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** GET a page, following nothing: redirects are returned to the caller. */
  async get(url: string): Promise<Response> {
    const res = await this.fetcher(url, { redirect: 'manual', headers: { cookie: this.cookieHeader() } });
    this.absorb(res);
    return res;
  }

  /** POST an urlencoded form, as a browser submitting it from `origin` would. */
  async post(url: string, fields: Record<string, string>, origin = new URL(url).origin): Promise<Response> {
    const res = await this.fetcher(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded', origin },
      body: new URLSearchParams(fields),
    });
    this.absorb(res);
    return res;
  }
}

/** The value of a named (hidden) input in a served page. */
export function inputValue(page: string, name: string): string {
  const match = new RegExp(`<input[^>]*name="${name}"[^>]*value="([^"]*)"`).exec(page);
  if (!match) throw new Error(`no input named ${name} in page:\n${page.slice(0, 500)}`);
  return match[1]!.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<').replaceAll('&gt;', '>');
}

/** The action URL of the page's form, resolved against the page URL. */
export function formAction(page: string, pageUrl: string): string {
  const match = /<form[^>]*action="([^"]*)"/.exec(page);
  if (!match) throw new Error('no form in page');
  return new URL(match[1]!.replaceAll('&amp;', '&'), pageUrl).toString();
}

/**
 * Drive `/authorize` from the authorization URL to the redirect back to the client: sign in with
 * the given account, then approve (or deny) on the consent page. Returns the final redirect URL.
 */
export async function signInAndConsent(
  authorizationUrl: string,
  account: { email: string; password: string; organization?: string },
  decision: 'approve' | 'deny' = 'approve',
  browser = new FormBrowser(),
): Promise<URL> {
  const signInRes = await browser.get(authorizationUrl);
  const signInPage = await signInRes.text();
  if (signInRes.status !== 200) throw new Error(`sign-in page: ${signInRes.status} ${signInPage.slice(0, 300)}`);
  const action = formAction(signInPage, authorizationUrl);
  const fields = {
    csrf: inputValue(signInPage, 'csrf'),
    email: account.email,
    password: account.password,
    ...(account.organization ? { organization: account.organization } : {}),
  };
  const consentRes = await browser.post(action, fields);
  const consentPage = await consentRes.text();
  if (consentRes.status !== 200) throw new Error(`sign-in failed: ${consentRes.status} ${consentPage.slice(0, 300)}`);
  const decided = await browser.post(formAction(consentPage, action), { handle: inputValue(consentPage, 'handle'), decision });
  const location = decided.headers.get('location');
  if (decided.status !== 302 || !location) throw new Error(`consent: ${decided.status} ${(await decided.text()).slice(0, 300)}`);
  return new URL(location);
}
