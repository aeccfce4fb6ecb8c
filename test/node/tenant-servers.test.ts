import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, ROOT, seedTenant, startPlatform, type RunningPlatform } from '../../scripts/lib/local-platform.ts';
import { connectClient } from '../support/gateway-harness';
import { connectWithOAuth, firstText } from '../support/mcp-connect';
import { TestOAuthProvider } from '../support/oauth-test-client';
import { runNode } from '../support/run-node';
import { connectV2 } from '../support/sdk-v2-connect';
import { GOOD_MODULE, GOOD_MODULE_V2 } from '../support/tenant-modules';

/**
 * A tenant admin goes from a .js file to a working MCP server with no operator and no redeploy:
 * `npm run smcp -- server deploy` with the tenant's own admin key, then the official SDK client
 * over Streamable HTTP (API key and the full OAuth flow, audience bound to the deployed server),
 * legacy SSE, and the SDK v2 client over MCP 2026-07-28; redeploy and rollback through the CLI take
 * effect on the next call.
 */

const account = { email: 'dev@acme.test', password: 'Correct-Horse-Battery-9' };
let platform: RunningPlatform;
let stateDir: string;
let adminKey: string;
let memberKey: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'smcp-modules-'));
  platform = await startPlatform({ stateDir, adminToken: 'mod-operator-token-0123456789', secret: 'mod-secret-'.padEnd(48, 'm') });
  await seedTenant(platform, { id: 'acme', name: 'Acme', servers: [] }, { ...account, role: 'member' });
  adminKey = (await admin(platform, '/tenants/acme/keys', { name: 'deployer', role: 'admin' })).body.key;
  memberKey = (await admin(platform, '/tenants/acme/keys', { name: 'member', role: 'member' })).body.key;
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const smcp = (args: string[]) => runNode(join(ROOT, 'scripts', 'smcp.ts'), ['--url', platform.url, ...args], { ...process.env, SMCP_TOKEN: adminKey });

describe('tenant-deployed server end to end (wrangler dev, SDK client, CLI)', () => {
  it('deploys from a file with the CLI, serves it to the SDK client, redeploys and rolls back', async () => {
    const file = join(stateDir, 'my-tools.js');
    writeFileSync(file, GOOD_MODULE);
    const deployed = await smcp(['server', 'deploy', 'acme', 'my-tools', file, '--title', 'My tools']);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(JSON.parse(deployed.stdout)).toMatchObject({ name: 'my-tools', version: 1, tools: ['echo', 'bump'] });

    const client = await connectClient(platform, 'my-tools', memberKey);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo', 'bump']);
    expect(firstText(await client.callTool({ name: 'echo', arguments: { text: 'hello' } }))).toBe('v1:hello:acme:member');
    const progress: number[] = [];
    const bumped = await client.callTool({ name: 'bump', arguments: { key: 'k' } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    expect(bumped.structuredContent).toEqual({ n: 1, file: '1' });
    expect(progress).toEqual([1]);
    await expect(client.callTool({ name: 'echo', arguments: { text: 42 } })).rejects.toThrow(/Invalid arguments/);

    writeFileSync(file, GOOD_MODULE_V2);
    expect((await smcp(['server', 'deploy', 'acme', 'my-tools', file])).code).toBe(0);
    expect(firstText(await client.callTool({ name: 'echo', arguments: { text: 'hello' } }))).toBe('v2:hello:acme:member');
    const versions = await smcp(['server', 'versions', 'acme', 'my-tools']);
    expect(JSON.parse(versions.stdout).versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect((await smcp(['server', 'rollback', 'acme', 'my-tools', '1'])).code).toBe(0);
    expect(firstText(await client.callTool({ name: 'echo', arguments: { text: 'hello' } }))).toBe('v1:hello:acme:member');
    await client.close();

    writeFileSync(file, 'export default { tools: { broken: ');
    const refused = await smcp(['server', 'deploy', 'acme', 'my-tools', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error 400: syntax_error: syntax error/);
  });

  it('serves the same deployed server to the SDK v2 client over MCP 2026-07-28 (stateless)', async () => {
    const file = join(stateDir, 'modern-tools.js');
    writeFileSync(file, GOOD_MODULE);
    expect((await smcp(['server', 'deploy', 'acme', 'modern-tools', file])).code).toBe(0);
    const modern = await connectV2(`${platform.url}/servers/modern-tools/mcp`, { pin: '2026-07-28' }, { apiKey: memberKey });
    try {
      expect((await modern.listTools()).tools.map((t) => t.name)).toEqual(['echo', 'bump']);
      expect(firstText(await modern.callTool({ name: 'echo', arguments: { text: 'v2 client' } }))).toBe('v1:v2 client:acme:member');
      writeFileSync(file, GOOD_MODULE_V2);
      expect((await smcp(['server', 'deploy', 'acme', 'modern-tools', file])).code).toBe(0);
      expect(firstText(await modern.callTool({ name: 'echo', arguments: { text: 'again' } }))).toBe('v2:again:acme:member');
    } finally {
      await modern.close();
    }
  });

  it('serves a deployed server to the SDK client through the full OAuth flow (its own audience) and over legacy SSE', async () => {
    const file = join(stateDir, 'oauth-tools.js');
    writeFileSync(file, GOOD_MODULE);
    expect((await smcp(['server', 'deploy', 'acme', 'oauth-tools', file])).code).toBe(0);
    const provider = new TestOAuthProvider(account);
    const client = await connectWithOAuth('streamable-http', `${platform.url}/servers/oauth-tools/mcp`, provider);
    expect(firstText(await client.callTool({ name: 'echo', arguments: { text: 'oauth' } }))).toBe('v1:oauth:acme:member');
    await client.close();
    // The token is bound to oauth-tools: the same token on another deployed server is refused.
    const token = provider.tokens()!.access_token;
    const elsewhere = await fetch(`${platform.url}/servers/my-tools/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
      }),
    });
    expect(elsewhere.status).toBe(401);

    const sse = await connectWithOAuth('sse', `${platform.url}/servers/oauth-tools/sse`, new TestOAuthProvider(account));
    expect(firstText(await sse.callTool({ name: 'echo', arguments: { text: 'sse' } }))).toBe('v1:sse:acme:member');
    await sse.close();
  });
});
