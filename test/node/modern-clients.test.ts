import type { Client as V2Client } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, seedTenant, startPlatform, type RunningPlatform } from '../../scripts/lib/local-platform.ts';
import { firstText } from '../support/mcp-connect';
import { connectV2, recordingFetch, V2OAuthProvider, type Exchange, type Negotiation, type V2Auth } from '../support/sdk-v2-connect';

/**
 * The official SDK v2 client (`@modelcontextprotocol/client` 2.4.0) on every hosted server through
 * `wrangler dev`, pinned to MCP 2026-07-28 and in `auto` mode, with OAuth (DCR, sign-in, consent
 * through the real forms) and with an API key; and the SDK v1 client on the same URL still getting
 * the 2025 era (a regression check: one URL serves both).
 */
const MODERN = '2026-07-28';
const PIN: Negotiation = { pin: MODERN };
const account = { email: 'member@acme.test', password: 'Correct-Horse-Battery-9' };
let platform: RunningPlatform;
let stateDir: string;
let apiKey: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'smcp-modern-clients-'));
  platform = await startPlatform({ stateDir, adminToken: 'modern-operator-token-0123456789', secret: 'modern-secret-'.padEnd(48, 'm') });
  await seedTenant(platform, { id: 'acme', name: 'Acme', servers: ['notes', 'everything', 'storage'] }, { ...account, role: 'member' });
  const key = await admin(platform, '/tenants/acme/keys', { name: 'sdk-v2', role: 'member' });
  expect(key.status).toBe(201);
  apiKey = key.body.key;
}, 180_000);

afterAll(async () => {
  await platform?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const url = (server: string) => `${platform.url}/servers/${server}/mcp`;
const json = (result: unknown) => JSON.parse(firstText(result));

/** What one server must do for a modern client: list its tools and answer a call (state across calls where it has any). */
const EXERCISE: Record<string, (client: V2Client, tag: string) => Promise<void>> = {
  async everything(client) {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('test_simple_text');
    expect(firstText(await client.callTool({ name: 'test_simple_text', arguments: {} })).length).toBeGreaterThan(0);
  },
  async storage(client, tag) {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['kv_get', 'kv_put']));
    // Tenant storage is state that needs no session: a put and a get in separate stateless requests.
    const put = await client.callTool({ name: 'kv_put', arguments: { key: `modern-${tag}`, value: `value ${tag}` } });
    expect(put.isError ?? false, firstText(put)).toBe(false);
    expect(json(await client.callTool({ name: 'kv_get', arguments: { key: `modern-${tag}` } }))).toMatchObject({ key: `modern-${tag}`, value: `value ${tag}` });
  },
  async notes(client, tag) {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['notebook_open', 'add_note', 'list_notes']));
    // A modern client has no session: the notebook lives behind a handle it passes back on each call.
    const { notebook } = json(await client.callTool({ name: 'notebook_open', arguments: {} }));
    expect(notebook).toBeTypeOf('string');
    await client.callTool({ name: 'add_note', arguments: { notebook, title: `first ${tag}`, body: 'kept across calls' } });
    await client.callTool({ name: 'add_note', arguments: { notebook, title: `second ${tag}` } });
    const listed = json(await client.callTool({ name: 'list_notes', arguments: { notebook } }));
    expect(listed.map((n: { title: string }) => n.title).sort()).toEqual([`first ${tag}`, `second ${tag}`]);
  },
};

/** Connect in `mode`, check the era the SDK settled on and what crossed the wire, run the server's exercise. */
async function modernRun(server: string, mode: Negotiation, auth: V2Auth, tag: string): Promise<void> {
  const wire: Exchange[] = [];
  const client = await connectV2(url(server), mode, auth, recordingFetch(wire));
  try {
    expect(client.getProtocolEra()).toBe('modern');
    expect(client.getNegotiatedProtocolVersion()).toBe(MODERN);
    expect(client.getDiscoverResult()?.supportedVersions).toContain(MODERN);
    await EXERCISE[server]!(client, tag);
    const mcp = wire.filter((e) => e.rpcMethod);
    expect(mcp.map((e) => e.rpcMethod)).not.toContain('initialize');
    // Stateless: no exchange carries or mints a session id.
    for (const e of mcp) {
      expect(e.responseHeaders.get('mcp-session-id'), `${e.rpcMethod} answered with a session id`).toBeNull();
      expect(e.requestHeaders.get('mcp-protocol-version')).toBe(MODERN);
    }
  } finally {
    await client.close();
  }
}

describe.each(['everything', 'storage', 'notes'])('SDK v2 client on /servers/%s/mcp', (server) => {
  it('with OAuth: pinned to 2026-07-28 it signs in once (DCR, PKCE, consent) and works; auto reuses the token and picks 2026-07-28', async () => {
    const provider = new V2OAuthProvider(account);
    await modernRun(server, PIN, { provider }, `oauth-pin-${server}`);
    expect(provider.authorizations).toBe(1);
    expect(provider.callback?.get('iss')).toBe(platform.url);
    await modernRun(server, 'auto', { provider }, `oauth-auto-${server}`);
    expect(provider.authorizations).toBe(1);
  });

  it('with an API key, pinned and in auto mode', async () => {
    await modernRun(server, PIN, { apiKey }, `key-pin-${server}`);
    await modernRun(server, 'auto', { apiKey }, `key-auto-${server}`);
  });

  it('the SDK v1 client on the same URL still gets the 2025 era: initialize, a session id, the same tools', async () => {
    const transport = new V1Transport(new URL(url(server)), { requestInit: { headers: { authorization: `Bearer ${apiKey}` } } });
    const legacy = new V1Client({ name: 'smcp-e2e-v1', version: '1.0.0' });
    await legacy.connect(transport);
    try {
      expect(transport.sessionId).toMatch(/^[0-9a-f]{64}\.[0-9a-f]{32}$/);
      expect(legacy.getServerVersion()?.name).toBeTruthy();
      const legacyTools = (await legacy.listTools()).tools.map((t) => t.name);
      expect(legacyTools.length).toBeGreaterThan(0);
      if (server === 'everything') expect(firstText(await legacy.callTool({ name: 'test_simple_text', arguments: {} })).length).toBeGreaterThan(0);
      if (server === 'notes') {
        // The 2025 lane keeps its per-session notebook: no handle needed.
        await legacy.callTool({ name: 'add_note', arguments: { title: 'legacy note' } });
        expect(json(await legacy.callTool({ name: 'list_notes', arguments: {} })).map((n: { title: string }) => n.title)).toContain('legacy note');
      }
      const modern = await connectV2(url(server), PIN, { apiKey });
      try {
        // One definition serves both eras: every 2025-era tool is offered to modern clients too.
        const modernTools = (await modern.listTools()).tools.map((t) => t.name);
        expect(modernTools).toEqual(expect.arrayContaining(legacyTools));
      } finally {
        await modern.close();
      }
    } finally {
      await legacy.close();
    }
  });
});

describe('a burst of one API key through wrangler dev', () => {
  const headers = (extra: Record<string, string>) => ({
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${apiKey}`,
    ...extra,
  });
  const post = async (extra: Record<string, string>, message: Record<string, unknown>) => {
    const res = await fetch(url('everything'), { method: 'POST', headers: headers(extra), body: JSON.stringify({ jsonrpc: '2.0', ...message }) });
    return { status: res.status, session: res.headers.get('mcp-session-id'), text: await res.text() };
  };
  const meta = {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientInfo': { name: 'burst', version: '1' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const modernCall = (id: number) =>
    post(
      { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'test_simple_text' },
      { id, method: 'tools/call', params: { name: 'test_simple_text', arguments: {}, _meta: meta } },
    );
  const sessionCall = (session: string, id: number) =>
    post(
      { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
      { id, method: 'tools/call', params: { name: 'test_simple_text', arguments: {} } },
    );

  it('is answered in full in both eras when it arrives with the key’s cached lookup expired (one request reads D1, the others wait for it)', async () => {
    const sessions: string[] = [];
    for (let i = 0; i < 20; i++) {
      const init = await post(
        {},
        { id: i, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'burst', version: '1' } } },
      );
      expect(init.status, init.text).toBe(200);
      const ack = await post({ 'mcp-session-id': init.session!, 'mcp-protocol-version': '2025-06-18' }, { method: 'notifications/initialized' });
      expect(ack.status).toBe(202);
      sessions.push(init.session!);
    }
    for (let round = 0; round < 4; round++) {
      // Longer than the access cache keeps an answer (ACCESS_CACHE_TTL_MS, 1 s): every round starts with a read.
      await new Promise((r) => setTimeout(r, 1_100));
      const answers = await Promise.all([
        ...sessions.map((s, i) => sessionCall(s, 1000 + round * 100 + i)),
        ...sessions.map((_, i) => modernCall(round * 100 + i)),
      ]);
      // Followers wait on a plain promise, never on the first request's D1 call: awaiting that call
      // itself failed some calls with HTTP 500 "Cannot perform I/O on behalf of a different request"
      // in the benchmark at c=100 (231 of 3,935). This burst is too small to show that failure; it
      // shows that waiting for another request's read answers every request of both eras.
      const failed = answers.filter((a) => a.status !== 200);
      expect(failed, failed[0]?.text).toEqual([]);
      for (const a of answers) expect(a.text).toContain('simple text');
    }
  });
});
