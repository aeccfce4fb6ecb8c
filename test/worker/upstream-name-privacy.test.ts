import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { authorizationRequest } from '../support/oauth-flow';
import { FormBrowser, formAction, inputValue } from '../support/browser-forms';
import { ORIGIN, adminCall, createKey, obtainToken, registerClient, seedTenant } from './platform-client';

/**
 * Finding 11 of the security review: anyone could list every tenant's upstream names (RFC 8414
 * metadata) and tell a registered name from an unknown one (401 vs 404). An unregistered name now
 * answers exactly like another tenant's upstream, on every route and with every kind of caller.
 */

const uniqueName = () => `up-${crypto.randomUUID().slice(0, 8)}`;
const VOLATILE = new Set(['x-correlation-id', 'date', 'cf-ray']);

/** Status, headers and body of an answer with the server name replaced, so two names compare equal. */
async function shape(res: Response, name: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const headers: Record<string, string> = {};
  res.headers.forEach((value, key) => {
    if (!VOLATILE.has(key)) headers[key] = value.replaceAll(name, '<name>');
  });
  return { status: res.status, headers, body: (await res.text()).replaceAll(name, '<name>') };
}

describe('upstream names do not leak (security review finding 11)', () => {
  it('answers an unknown name exactly like another tenant’s registered upstream, for every caller and route', async () => {
    const owner = await seedTenant([]);
    const outsider = await seedTenant(['notes'], ['member']);
    const registered = uniqueName();
    const unknown = uniqueName();
    expect((await adminCall('POST', `/tenants/${owner.id}/upstreams`, { name: registered, url: 'https://mcp.example.com/mcp' })).status).toBe(201);
    const outsiderKey = (await createKey(outsider.id, 'member')).key;
    const outsiderAdmin = (await createKey(outsider.id, 'admin')).key;
    const oauthToken = (await obtainToken(outsider.accounts.member!, 'notes')).access_token;
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'probe', version: '1' } },
    };

    const probes: Array<[label: string, request: (name: string) => Promise<Response>]> = [];
    for (const [who, bearer] of [
      ['nobody', null],
      ['garbage token', 'garbage'],
      ['OAuth token for notes', oauthToken],
      ['member key', outsiderKey],
      ['admin key', outsiderAdmin],
      ['forged key', `smcp_${outsider.id}_${'A'.repeat(43)}`],
    ] as const) {
      const auth: Record<string, string> = bearer ? { authorization: `Bearer ${bearer}` } : {};
      const json = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...auth };
      probes.push([`${who}: POST mcp`, (n) => SELF.fetch(`${ORIGIN}/servers/${n}/mcp`, { method: 'POST', headers: json, body: JSON.stringify(init) })]);
      probes.push([`${who}: GET mcp`, (n) => SELF.fetch(`${ORIGIN}/servers/${n}/mcp`, { headers: { accept: 'text/event-stream', ...auth } })]);
      probes.push([
        `${who}: DELETE mcp`,
        (n) => SELF.fetch(`${ORIGIN}/servers/${n}/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': `${'a'.repeat(64)}.${'b'.repeat(32)}`, ...auth } }),
      ]);
      probes.push([`${who}: GET sse`, (n) => SELF.fetch(`${ORIGIN}/servers/${n}/sse`, { headers: { accept: 'text/event-stream', ...auth } })]);
      probes.push([
        `${who}: POST sse/message`,
        (n) => SELF.fetch(`${ORIGIN}/servers/${n}/sse/message?sessionId=x`, { method: 'POST', headers: json, body: '{}' }),
      ]);
    }
    probes.push([
      'OPTIONS mcp',
      (n) => SELF.fetch(`${ORIGIN}/servers/${n}/mcp`, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } }),
    ]);
    for (const transport of ['mcp', 'sse']) {
      probes.push([`metadata ${transport}`, (n) => SELF.fetch(`${ORIGIN}/.well-known/oauth-protected-resource/servers/${n}/${transport}`)]);
    }

    for (const [label, request] of probes) {
      const a = await shape(await request(registered), registered);
      const b = await shape(await request(unknown), unknown);
      expect(b, label).toEqual(a);
    }
    // Sanity: the probes see the real behaviours (a challenge, and the gate's 404 for a key).
    const challenged = await SELF.fetch(`${ORIGIN}/servers/${unknown}/mcp`, { method: 'POST' });
    expect(challenged.status).toBe(401);
    expect(challenged.headers.get('www-authenticate')).toContain(`resource_metadata="${ORIGIN}/.well-known/oauth-protected-resource/servers/${unknown}/mcp"`);
    const keyed = await SELF.fetch(`${ORIGIN}/servers/${unknown}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${outsiderKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(init),
    });
    expect(keyed.status).toBe(404);
  });

  it('walks an authorization request for an unknown name exactly like one for another tenant’s upstream', async () => {
    const owner = await seedTenant([]);
    const outsider = await seedTenant(['notes'], ['member']);
    const registered = uniqueName();
    const unknown = uniqueName();
    expect((await adminCall('POST', `/tenants/${owner.id}/upstreams`, { name: registered, url: 'https://mcp.example.com/mcp' })).status).toBe(201);
    const client = await registerClient();
    const outcomes: Record<string, unknown[]> = {};
    for (const name of [registered, unknown]) {
      const { url } = await authorizationRequest(ORIGIN, client, `${ORIGIN}/servers/${name}/mcp`);
      const browser = new FormBrowser((input, init) => SELF.fetch(input, init));
      const page = await browser.get(url);
      const html = await page.text();
      const signedIn = await browser.post(formAction(html, url), {
        csrf: inputValue(html, 'csrf'),
        email: outsider.accounts.member!.email,
        password: outsider.accounts.member!.password,
      });
      outcomes[name] = [
        page.status,
        html
          .replaceAll(name, '<name>')
          .replace(/value="[0-9a-f]{64}"/g, '')
          .replace(/code_challenge=[A-Za-z0-9_-]+/, ''),
        signedIn.status,
        (await signedIn.text()).replaceAll(name, '<name>'),
      ];
    }
    expect(outcomes[unknown]).toEqual(outcomes[registered]);
    expect(outcomes[unknown]![0]).toBe(200);
    expect(outcomes[unknown]![2]).toBe(403);
  });

  it('does not list upstream resources in the authorization server metadata', async () => {
    const t = await seedTenant([]);
    const name = uniqueName();
    expect((await adminCall('POST', `/tenants/${t.id}/upstreams`, { name, url: 'https://mcp.example.com/mcp' })).status).toBe(201);
    const res = await SELF.fetch(`${ORIGIN}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(name);
    expect(text).not.toContain('/servers/up-');
    expect(JSON.parse(text).protected_resources).toContain(`${ORIGIN}/servers/notes/mcp`);
  });
});
