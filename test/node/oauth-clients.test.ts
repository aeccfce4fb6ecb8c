import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedTenant, startPlatform, type RunningPlatform } from '../../scripts/lib/local-platform.ts';
import { connectWithOAuth, firstText } from '../support/mcp-connect';
import { TestOAuthProvider } from '../support/oauth-test-client';

const account = { email: 'member@acme.test', password: 'Correct-Horse-Battery-9' };
let platform: RunningPlatform;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'smcp-e2e-'));
  platform = await startPlatform({ stateDir, adminToken: 'e2e-operator-token-0123456789', secret: 'e2e-secret-'.padEnd(48, 'x') });
  await seedTenant(platform, { id: 'acme', name: 'Acme', servers: ['notes', 'everything'] }, { ...account, role: 'member' });
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('official MCP SDK client, full OAuth flow against wrangler dev', () => {
  it('discovers, registers, signs in, consents and calls notes tools over Streamable HTTP', async () => {
    const provider = new TestOAuthProvider(account);
    const client = await connectWithOAuth('streamable-http', `${platform.url}/servers/notes/mcp`, provider);
    expect(provider.authorizations).toBe(1);
    expect(provider.tokens()?.refresh_token).toBeTruthy();

    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['add_note', 'delete_note', 'list_notes', 'search_notes']));
    const added = JSON.parse(firstText(await client.callTool({ name: 'add_note', arguments: { title: 'Groceries', body: 'eggs, milk' } })));
    expect(added.id).toBeTypeOf('number');
    await client.callTool({ name: 'add_note', arguments: { title: 'Ideas', body: 'platform' } });
    const found = JSON.parse(firstText(await client.callTool({ name: 'search_notes', arguments: { query: 'MILK' } })));
    expect(found.map((n: { title: string }) => n.title)).toEqual(['Groceries']);
    await client.callTool({ name: 'delete_note', arguments: { id: added.id } });
    const left = JSON.parse(firstText(await client.callTool({ name: 'list_notes', arguments: {} })));
    expect(left.map((n: { title: string }) => n.title)).toEqual(['Ideas']);
    await client.close();
  });

  it('calls the everything server over Streamable HTTP with its own token', async () => {
    const provider = new TestOAuthProvider(account);
    const client = await connectWithOAuth('streamable-http', `${platform.url}/servers/everything/mcp`, provider);
    const result = await client.callTool({ name: 'test_simple_text', arguments: {} });
    expect(firstText(result).length).toBeGreaterThan(0);
    await client.close();
  });

  it('runs the same flow over legacy SSE for both servers', async () => {
    for (const server of ['notes', 'everything']) {
      const provider = new TestOAuthProvider(account);
      const client = await connectWithOAuth('sse', `${platform.url}/servers/${server}/sse`, provider);
      const tools = await client.listTools();
      expect(tools.tools.length).toBeGreaterThan(0);
      if (server === 'notes') {
        await client.callTool({ name: 'add_note', arguments: { title: 'over sse' } });
        const listed = JSON.parse(firstText(await client.callTool({ name: 'list_notes', arguments: {} })));
        expect(listed[0].title).toBe('over sse');
      } else {
        expect(firstText(await client.callTool({ name: 'test_simple_text', arguments: {} })).length).toBeGreaterThan(0);
      }
      await client.close();
    }
  });

  it('refuses a token issued for one server at another, and refreshes tokens', async () => {
    const provider = new TestOAuthProvider(account);
    const client = await connectWithOAuth('streamable-http', `${platform.url}/servers/notes/mcp`, provider);
    await client.close();
    const tokens = provider.tokens()!;
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    };
    const post = (server: string, token: string) =>
      fetch(`${platform.url}/servers/${server}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify(init),
      });
    const elsewhere = await post('everything', tokens.access_token);
    expect(elsewhere.status).toBe(401);
    expect(elsewhere.headers.get('www-authenticate')).toContain('/servers/everything/mcp');
    expect((await post('notes', tokens.access_token)).status).toBe(200);

    const refreshed = await fetch(`${platform.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        client_id: String(provider.clientInformation()!.client_id),
      }),
    });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as { access_token: string; refresh_token: string };
    expect(next.access_token).not.toBe(tokens.access_token);
    expect((await post('notes', next.access_token)).status).toBe(200);
  });
});
