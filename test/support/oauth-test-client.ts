import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { signInAndConsent } from './browser-forms.ts';

/**
 * The official SDK's `OAuthClientProvider`, implemented the way a desktop MCP client does (in
 * memory, loopback redirect), except that "opening the browser" signs in and consents by posting
 * the platform's real forms. Captures the authorization code for `transport.finishAuth`.
 */
export class TestOAuthProvider implements OAuthClientProvider {
  private info?: OAuthClientInformationMixed;
  private saved?: OAuthTokens;
  private verifier = '';
  /** Authorization code from the last redirect. */
  code?: string;
  /** How many times the SDK sent the user to /authorize. */
  authorizations = 0;

  constructor(
    private readonly account: { email: string; password: string },
    readonly redirectUrl = 'http://127.0.0.1:33418/callback',
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'SMCP e2e test client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
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
    const code = back.searchParams.get('code');
    if (!code) throw new Error(`no code in redirect: ${back}`);
    this.code = code;
  }
}
