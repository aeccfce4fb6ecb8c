import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { signInAndConsent } from './browser-forms.ts';

/**
 * The one home of the OAuth client plumbing the end-to-end tests give the official SDKs (v1's
 * `@modelcontextprotocol/sdk` here, v2's `@modelcontextprotocol/client` in sdk-v2-connect.ts): a
 * client kept in memory with a loopback redirect, as a desktop MCP client does, except that "opening
 * the browser" signs in and consents by posting the platform's real forms. `Info` and `Tokens` are
 * each SDK's own stored shapes.
 */
export class MemoryOAuthClient<Info, Tokens> {
  private info?: Info;
  private saved?: Tokens;
  private verifier = '';
  /** Query of the last redirect back to the client (`code`, `state`, `iss`). */
  callback?: URLSearchParams;
  /** How many times the SDK sent the user to /authorize. */
  authorizations = 0;

  constructor(
    private readonly account: { email: string; password: string },
    readonly redirectUrl: string,
    private readonly clientName: string,
  ) {}

  /** Authorization code from the last redirect. */
  get code(): string | undefined {
    return this.callback?.get('code') ?? undefined;
  }
  get clientMetadata() {
    return {
      client_name: this.clientName,
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: Info) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: Tokens) {
    this.saved = tokens;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  async redirectToAuthorization(url: URL): Promise<void> {
    this.authorizations++;
    const back = await signInAndConsent(url.toString(), this.account);
    if (!back.searchParams.get('code')) throw new Error(`no code in redirect: ${back}`);
    this.callback = back.searchParams;
  }
}

/** The SDK v1 client's `OAuthClientProvider`; the code for `transport.finishAuth` is `code`. */
export class TestOAuthProvider extends MemoryOAuthClient<OAuthClientInformationMixed, OAuthTokens> implements OAuthClientProvider {
  constructor(account: { email: string; password: string }, redirectUrl = 'http://127.0.0.1:33418/callback') {
    super(account, redirectUrl, 'SMCP e2e test client');
  }
}
