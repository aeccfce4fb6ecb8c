import { FormBrowser, signInAndConsent } from './browser-forms.ts';

/**
 * The OAuth 2.1 flow a client performs against the platform, step by step over plain HTTP:
 * dynamic client registration, an authorization request with PKCE S256 for one resource, sign-in
 * and consent through the real forms, and the code exchange. Works with any fetch: Node's, or
 * `SELF.fetch` inside workerd.
 */
export type Fetcher = (input: string, init?: RequestInit) => Promise<Response>;

function b64url(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  return btoa(String.fromCharCode(...view))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

export interface RegisteredClient {
  client_id: string;
  redirect: string;
}

/** Register a public client by DCR. */
export async function registerClient(
  fetcher: Fetcher,
  origin: string,
  name = 'SMCP test client',
  redirect = 'http://127.0.0.1:9/callback',
): Promise<RegisteredClient> {
  const res = await fetcher(`${origin}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: name,
      redirect_uris: [redirect],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    }),
  });
  if (res.status !== 201) throw new Error(`registration failed: ${res.status} ${await res.text()}`);
  return { ...((await res.json()) as { client_id: string }), redirect };
}

/** An authorization URL with PKCE S256 for `resource`, and the verifier to redeem the code. */
export async function authorizationRequest(origin: string, client: RegisteredClient, resource: string) {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const url = new URL(`${origin}/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: client.redirect,
    scope: 'mcp',
    state: 'st-123',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource,
  }).toString();
  return { url: url.toString(), verifier };
}

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  clientId: string;
}

/** Register (unless given a client), authorize with sign-in and consent, and exchange the code. */
export async function obtainToken(
  fetcher: Fetcher,
  origin: string,
  account: { email: string; password: string; organization?: string },
  server: string,
  transport: 'mcp' | 'sse' = 'mcp',
  client?: RegisteredClient,
): Promise<Tokens> {
  const c = client ?? (await registerClient(fetcher, origin));
  const { url, verifier } = await authorizationRequest(origin, c, `${origin}/servers/${server}/${transport}`);
  const back = await signInAndConsent(url, account, 'approve', new FormBrowser(fetcher));
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code in ${back}`);
  const res = await fetcher(`${origin}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: c.redirect, client_id: c.client_id, code_verifier: verifier }),
  });
  if (res.status !== 200) throw new Error(`token exchange failed: ${res.status} ${await res.text()}`);
  return { ...((await res.json()) as { access_token: string; refresh_token?: string }), clientId: c.client_id };
}
