import { runNode, type NodeRun } from '../support/run-node';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, ROOT, seedTenant, startPlatform, type RunningPlatform } from '../../scripts/lib/local-platform.ts';
import { firstText } from '../support/mcp-connect';
import { connectThroughMcpRemote } from '../support/mcp-remote';
import { seenMethods, startTokenProxy } from '../../scripts/lib/token-proxy.ts';

/**
 * Clients nobody on this project wrote, against the real platform under `wrangler dev`:
 * `mcp-remote` completing OAuth (DCR, PKCE, sign-in, consent) and proxying stdio, and the MCP
 * Inspector CLI calling tools with an API key in each protocol era it offers for HTTP servers
 * (`legacy` 2025, `modern` 2026-07-28, and `auto`, which must pick modern).
 */
const account = { email: 'member@acme.test', password: 'Correct-Horse-Battery-9' };
let platform: RunningPlatform;
let stateDir: string;
let home: string;
let apiKey: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'smcp-clients-'));
  home = mkdtempSync(join(tmpdir(), 'smcp-clients-home-'));
  platform = await startPlatform({ stateDir, adminToken: 'clients-operator-token-0123456789', secret: 'clients-secret-'.padEnd(48, 'z') });
  await seedTenant(platform, { id: 'acme', name: 'Acme', servers: ['notes', 'everything'] }, { ...account, role: 'member' });
  const key = await admin(platform, '/tenants/acme/keys', { name: 'inspector', role: 'member' });
  expect(key.status).toBe(201);
  apiKey = key.body.key;
}, 180_000);

afterAll(async () => {
  await platform?.stop();
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

/** Access tokens mcp-remote stored under its config dir (`<dir>/.mcp-auth/mcp-remote-<v>/<hash>_tokens.json`). */
function storedAccessTokens(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('_tokens.json'))
    .map((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { access_token?: string }).access_token)
    .filter((t): t is string => typeof t === 'string' && t.length > 0);
}

describe('mcp-remote (the proxy Claude Desktop uses) against wrangler dev', () => {
  it('registers by DCR, completes sign-in and consent, and proxies tools over Streamable HTTP', async () => {
    const session = await connectThroughMcpRemote({ root: ROOT, home: join(home, 'remote-http'), serverUrl: `${platform.url}/servers/notes/mcp`, account });
    try {
      expect(session.authorizations()).toBe(1);
      const stored = storedAccessTokens(join(home, 'remote-http'));
      expect(stored.length).toBeGreaterThan(0);
      for (const token of stored) expect(session.log()).not.toContain(token);
      const tools = await session.client.listTools();
      expect(tools.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['add_note', 'delete_note', 'list_notes', 'search_notes']));
      await session.client.callTool({ name: 'add_note', arguments: { title: 'via mcp-remote', body: 'stdio to http' } });
      const listed = JSON.parse(firstText(await session.client.callTool({ name: 'list_notes', arguments: {} })));
      expect(listed.map((n: { title: string }) => n.title)).toEqual(['via mcp-remote']);
    } finally {
      await session.close();
    }
  });

  it('reuses the stored token on the next start (no second sign-in)', async () => {
    const dir = join(home, 'remote-http');
    const session = await connectThroughMcpRemote({ root: ROOT, home: dir, serverUrl: `${platform.url}/servers/notes/mcp`, account });
    try {
      expect(session.authorizations()).toBe(0);
      expect((await session.client.listTools()).tools.map((t) => t.name)).toContain('list_notes');
    } finally {
      await session.close();
    }
  });

  it('does the same over the legacy SSE endpoint', async () => {
    const session = await connectThroughMcpRemote({
      root: ROOT,
      home: join(home, 'remote-sse'),
      serverUrl: `${platform.url}/servers/everything/sse`,
      account,
      extraArgs: ['--transport', 'sse-only'],
    });
    try {
      expect(session.authorizations()).toBe(1);
      const result = await session.client.callTool({ name: 'test_simple_text', arguments: {} });
      expect(firstText(result).length).toBeGreaterThan(0);
    } finally {
      await session.close();
    }
  });
});

/**
 * The one JSON-RPC message of an answer, whether sent as JSON or as an SSE stream (whose first
 * event, for a client on 2025-11-25 or later, is the SDK's priming event: an id with empty data).
 */
async function rpcBody(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!res.headers.get('content-type')?.includes('text/event-stream')) return JSON.parse(text);
  const data = text.split('\n').find((line) => line.startsWith('data: ') && line.slice(6).trim() !== '');
  return JSON.parse(data!.slice(6));
}

const INSPECTOR = join(ROOT, 'node_modules', '@modelcontextprotocol', 'inspector', 'clients', 'launcher', 'build', 'index.js');

function inspector(args: string[]): Promise<NodeRun> {
  const dir = join(home, 'inspector');
  return runNode(INSPECTOR, ['--cli', ...args], {
    ...process.env,
    HOME: dir,
    MCP_CATALOG_PATH: join(dir, 'mcp.json'),
    MCP_CLIENT_CONFIG_PATH: join(dir, 'client.json'),
    NO_COLOR: '1',
    BROWSER: 'true',
  });
}

const inspectorArgs = (server: string, era: string, key = apiKey, origin = platform.url) => [
  `${origin}/servers/${server}/mcp`,
  '--header',
  `Authorization: Bearer ${key}`,
  '--protocol-era',
  era,
  '--stored-auth-only',
  '--format',
  'json',
];

describe('MCP Inspector CLI with an API key against wrangler dev', () => {
  // Each run goes through an observing loopback proxy, so the test sees which era the Inspector
  // actually spoke: `legacy` must initialize, `modern` and `auto` must not (auto probes with
  // server/discover and the platform offers 2026-07-28).
  for (const era of ['legacy', 'auto', 'modern'] as const) {
    it(`lists and calls tools with --protocol-era ${era}`, async () => {
      const proxy = await startTokenProxy(platform.url, null);
      try {
        const listed = await inspector([...inspectorArgs('notes', era, apiKey, proxy.url), '--method', 'tools/list']);
        expect(listed.code, listed.stderr).toBe(0);
        const names = (JSON.parse(listed.stdout).result.tools as Array<{ name: string }>).map((t) => t.name);
        expect(names).toEqual(expect.arrayContaining(['add_note', 'delete_note', 'list_notes', 'search_notes']));

        if (era === 'legacy') {
          const added = await inspector([
            ...inspectorArgs('notes', era, apiKey, proxy.url),
            '--method',
            'tools/call',
            '--tool-name',
            'add_note',
            '--tool-arg',
            `title=from inspector ${era}`,
          ]);
          expect(added.code, added.stderr).toBe(0);
          const addedResult = JSON.parse(added.stdout).result;
          expect(addedResult.isError ?? false).toBe(false);
          expect(JSON.parse(firstText(addedResult)).title).toBe(`from inspector ${era}`);
        }

        const echoed = await inspector([...inspectorArgs('everything', era, apiKey, proxy.url), '--method', 'tools/call', '--tool-name', 'test_simple_text']);
        expect(echoed.code, echoed.stderr).toBe(0);
        expect(firstText(JSON.parse(echoed.stdout).result).length).toBeGreaterThan(0);

        const methods = seenMethods(proxy.seen);
        if (era === 'legacy') {
          expect(methods).toContain('initialize');
          expect(methods).not.toContain('server/discover');
        } else {
          expect(methods).toContain('server/discover');
          expect(methods).not.toContain('initialize');
          for (const r of proxy.seen.filter((x) => x.method === 'POST')) expect(r.headers['mcp-protocol-version']).toBe('2026-07-28');
        }
      } finally {
        await proxy.close();
      }
    });
  }

  it('server/discover (the probe "auto" sends first) offers 2026-07-28, while initialize never does', async () => {
    const post = (body: { jsonrpc: string; id: number; method: string; params: unknown }, version: string) =>
      fetch(`${platform.url}/servers/notes/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': version,
          'mcp-method': body.method,
        },
        body: JSON.stringify(body),
      });
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const discover = await post({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: meta } }, '2026-07-28');
    expect(discover.status, await discover.clone().text()).toBe(200);
    expect(discover.headers.get('mcp-session-id')).toBeNull();
    const discovered = (await rpcBody(discover)) as { result: { supportedVersions: string[] } };
    expect(discovered.result.supportedVersions).toContain('2026-07-28');

    const init = await post(
      { jsonrpc: '2.0', id: 2, method: 'initialize', params: { protocolVersion: '2026-07-28', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } },
      '2025-06-18',
    );
    expect(init.status).toBe(200);
    const initialized = (await rpcBody(init)) as { result: { protocolVersion: string } };
    expect(initialized.result.protocolVersion).toMatch(/^2025-/);
  });

  it('fails (non-zero exit, no result) with an unknown key', async () => {
    const run = await inspector([...inspectorArgs('notes', 'legacy', 'smcp_not-a-real-key'), '--method', 'tools/list']);
    expect(run.code).not.toBe(0);
    expect(run.stdout).not.toContain('add_note');
  });
});
