import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { FormBrowser, signInAndConsent } from '../support/browser-forms';
import { authorizationRequest } from '../support/oauth-flow';
import { ORIGIN, registerClient, seedTenant } from './platform-client';

const fetcher = (input: string, init?: RequestInit) => SELF.fetch(input, init);

/**
 * The authorization side of MCP 2026-07-28: RFC 9207 `iss` on every authorization response the
 * platform sends back to a client's redirect URI, advertised in the server metadata, and Client ID
 * Metadata Documents advertised (their fetch needs a public HTTPS URL: see docs/security.md).
 */
describe('authorization responses (RFC 9207) and metadata', () => {
  it('advertises the iss parameter and Client ID Metadata Documents beside dynamic registration', async () => {
    const res = await SELF.fetch(`${ORIGIN}/.well-known/oauth-authorization-server`);
    const metadata = await res.json<any>();
    expect(metadata.issuer).toBe(ORIGIN);
    expect(metadata.authorization_response_iss_parameter_supported).toBe(true);
    expect(metadata.client_id_metadata_document_supported).toBe(true);
    expect(metadata.registration_endpoint).toBe(`${ORIGIN}/oauth/register`);
  });

  it('puts iss (the issuer) next to the code on approval and next to the error on denial', async () => {
    const { accounts } = await seedTenant(['notes']);
    for (const decision of ['approve', 'deny'] as const) {
      const client = await registerClient();
      const { url } = await authorizationRequest(ORIGIN, client, `${ORIGIN}/servers/notes/mcp`);
      const back = await signInAndConsent(url, accounts.member!, decision, new FormBrowser(fetcher));
      expect(back.searchParams.get('iss')).toBe(ORIGIN);
      expect(back.searchParams.get('state')).toBe('st-123');
      expect(back.searchParams.get(decision === 'approve' ? 'code' : 'error')).toBeTruthy();
    }
  });

  // Fetching a real document needs a public HTTPS URL (tests never reach the network): only the
  // refusals that happen before any fetch are exercised here.
  it('refuses, with a clear 400 and no redirect, a client_id URL that is not HTTPS', async () => {
    for (const clientId of ['http://client.example/metadata.json', 'http://127.0.0.1/metadata.json']) {
      const url = new URL(`${ORIGIN}/authorize`);
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: 'https://client.invalid/callback',
        scope: 'mcp',
        state: 's',
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
        resource: `${ORIGIN}/servers/notes/mcp`,
      }).toString();
      const res = await SELF.fetch(url.toString(), { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
    }
  });
});
