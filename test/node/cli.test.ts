import { runNode, type NodeRun } from '../support/run-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startPlatform, type RunningPlatform } from '../../scripts/lib/local-platform.ts';

let platform: RunningPlatform;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'smcp-cli-'));
  platform = await startPlatform({ stateDir, adminToken: 'cli-operator-token-0123456789', secret: 'cli-secret-'.padEnd(48, 'y') });
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

function smcp(args: string[], env: Record<string, string> = {}): Promise<NodeRun> {
  return runNode(join(ROOT, 'scripts', 'smcp.ts'), ['--url', platform.url, ...args], { ...process.env, SMCP_TOKEN: platform.adminToken, ...env });
}

const initialize = (key: string) =>
  fetch(`${platform.url}/servers/notes/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cli-test', version: '1' } },
    }),
  });

describe('smcp CLI against wrangler dev', () => {
  it('creates a tenant, adds a user, creates, uses and revokes a key', async () => {
    const tenant = await smcp(['tenant', 'create', 'acme', '--servers', 'notes']);
    expect(tenant.code, tenant.stderr).toBe(0);
    expect(JSON.parse(tenant.stdout)).toMatchObject({ id: 'acme', name: 'acme', servers: ['notes'], status: 'active' });

    const user = await smcp(['user', 'add', 'acme', 'ana@acme.test', '--role', 'admin'], { SMCP_PASSWORD: 'Correct-Horse-Battery-9' });
    expect(user.code, user.stderr).toBe(0);
    expect(JSON.parse(user.stdout)).toMatchObject({ email: 'ana@acme.test', role: 'admin' });

    const created = await smcp(['key', 'create', 'acme', '--name', 'ci', '--role', 'member', '--expires-in-days', '7']);
    expect(created.code, created.stderr).toBe(0);
    const { id, key } = JSON.parse(created.stdout) as { id: string; key: string };
    expect(created.stderr).toContain('shown once');
    expect((await initialize(key)).status).toBe(200);

    const revoked = await smcp(['key', 'revoke', 'acme', id]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await initialize(key)).status).toBe(401);
  });

  it('lets a tenant admin key manage its own tenant only, and reports errors with a non-zero exit', async () => {
    await smcp(['tenant', 'create', 'globex', '--servers', 'notes']);
    const adminKey = JSON.parse((await smcp(['key', 'create', 'globex', '--role', 'admin'])).stdout).key as string;
    const own = await smcp(['key', 'list', 'globex'], { SMCP_TOKEN: adminKey });
    expect(own.code, own.stderr).toBe(0);
    expect(JSON.parse(own.stdout).keys).toHaveLength(1);
    const other = await smcp(['key', 'list', 'acme'], { SMCP_TOKEN: adminKey });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('error 404');
    const bad = await smcp(['tenant', 'create', 'Not A Slug']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid_request');
    const noToken = await smcp(['tenant', 'list'], { SMCP_TOKEN: '' });
    expect(noToken.code).toBe(2);
  });

  it('sets tenant limits (operator only) and the gate enforces them', async () => {
    await smcp(['tenant', 'create', 'initech', '--servers', 'notes']);
    const set = await smcp(['tenant', 'limits', 'initech', '--rpm', '500', '--sessions', '1', '--key-per-minute', '50', '--key-per-day', '5000']);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout).limits).toEqual({
      requestsPerMinute: 500,
      maxSessions: 1,
      maxSessionsPerUser: 20,
      maxUpstreams: 20,
      credentialPerMinute: 50,
      credentialPerHour: 20_000,
      credentialPerDay: 5000,
    });
    const created = JSON.parse((await smcp(['key', 'create', 'initech'])).stdout) as { id: string; key: string };
    const key = created.key;
    const other = JSON.parse((await smcp(['key', 'create', 'initech'])).stdout).key as string;
    const first = await initialize(key);
    expect(first.status).toBe(200);
    await first.body?.cancel();
    // The tenant's one session is held by another key: refused (the same key would replace its own).
    const second = await initialize(other);
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBeTruthy();
    // A key's own limits round-trip, and the listing shows its request counts.
    const keyLimits = await smcp(['key', 'limits', 'initech', created.id, '--per-minute', '2', '--per-hour', 'default']);
    expect(keyLimits.code, keyLimits.stderr).toBe(0);
    expect(JSON.parse(keyLimits.stdout).limits).toEqual({ perMinute: 2, perHour: null, perDay: null });
    const listed = JSON.parse((await smcp(['key', 'list', 'initech'])).stdout).keys.find((k: { id: string }) => k.id === created.id);
    expect(listed.limits).toEqual({ perMinute: 2, perHour: null, perDay: null });
    expect(listed.usage.total).toBe(1);
    const reset = await smcp(['tenant', 'limits', 'initech', '--sessions', 'default']);
    expect(JSON.parse(reset.stdout).limits.maxSessions).toBe(100);
    const tenantAdmin = JSON.parse((await smcp(['key', 'create', 'initech', '--role', 'admin'])).stdout).key as string;
    const refused = await smcp(['tenant', 'limits', 'initech', '--rpm', '99999'], { SMCP_TOKEN: tenantAdmin });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error 403');
  });
});
