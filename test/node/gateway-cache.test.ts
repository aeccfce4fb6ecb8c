import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/lib/local-platform.ts';
import { adminCall, connectClient, startHarness, tenantWithKeys, text, type Harness } from '../support/gateway-harness.ts';
import { startCacheUpstream, type CacheUpstream } from '../support/cache-upstream.ts';
import { runNode } from '../support/run-node.ts';
import { connectV2 } from '../support/sdk-v2-connect.ts';
import { eventually } from '../support/eventually';

// Response caching through the gateway, end to end: wrangler dev, a real SDK upstream on loopback
// that numbers every answer and counts every call, the official SDK clients (2025 and 2026-07-28)
// calling through /servers/<name>/mcp with tenant API keys of each role.

let h: Harness;
let acme: Record<'admin' | 'member' | 'read-only', string>;
let globex: Record<'admin' | 'member' | 'read-only', string>;
let up: CacheUpstream;
const clients: Array<{ close(): Promise<void> }> = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cacheSettings = { enabled: true, ttlMs: 600_000, tools: ['lookup', 'secret_lookup', 'plain_read', 'failing'] };
const connect = async (key: string, name = 'docs') => {
  const c = await connectClient(h.platform, name, key);
  clients.push(c);
  return c;
};
const calls = (k: string) => up.counts[k] ?? 0;
const cacheState = async (tenant: string, name = 'docs') =>
  (await adminCall(h.platform, 'GET', `/tenants/${tenant}/upstreams/${name}`)).body.state.responseCache;
const lookup = async (c: Client, q: string, name = 'lookup') => text(await c.callTool({ name, arguments: { q } }));
const readDoc = async (c: Client, uri = 'cache://doc') => (await c.readResource({ uri })).contents[0] as { text: string };

beforeAll(async () => {
  h = await startHarness('gwcache');
  acme = await tenantWithKeys(h.platform, 'acme');
  globex = await tenantWithKeys(h.platform, 'globex');
  up = await startCacheUpstream();
  const created = await adminCall(h.platform, 'POST', '/tenants/acme/upstreams', {
    name: 'docs',
    url: up.url,
    policy: { minRoles: { secret_lookup: 'admin' } },
    settings: { responseCache: cacheSettings },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
}, 180_000);

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await up?.close();
  await h?.stop();
});

describe('gateway response cache', () => {
  it('serves a repeated read from the cache without reaching the upstream: tools, resources, prompts, across sessions; counted in the admin view', async () => {
    const before = await cacheState('acme');
    const member = await connect(acme.member);
    const first = await lookup(member, 'a');
    expect(first).toMatch(/^lookup a #\d+$/);
    expect(await lookup(member, 'a')).toBe(first);
    expect(calls('tools/call:lookup')).toBe(1);
    expect(await lookup(member, 'b')).not.toBe(first); // other arguments, other entry
    expect(calls('tools/call:lookup')).toBe(2);

    const doc = (await readDoc(member)).text;
    expect((await readDoc(member)).text).toBe(doc);
    expect(calls('resources/read')).toBe(1);
    const prompt = JSON.stringify((await member.getPrompt({ name: 'greet', arguments: { name: 'Ada' } })).messages);
    expect(JSON.stringify((await member.getPrompt({ name: 'greet', arguments: { name: 'Ada' } })).messages)).toBe(prompt);
    expect(calls('prompts/get')).toBe(1);

    // Another session of the same role: the same entry.
    const again = await connect(acme.member);
    expect(await lookup(again, 'a')).toBe(first);
    expect((await readDoc(again)).text).toBe(doc);
    expect(calls('tools/call:lookup')).toBe(2);
    expect(calls('resources/read')).toBe(1);

    const after = await cacheState('acme');
    expect(after.hits - before.hits).toBe(5);
    expect(after.misses - before.misses).toBe(4);
    expect(after.stores - before.stores).toBe(4);
    expect(after.entries).toBeGreaterThanOrEqual(4);
    expect(after).toHaveProperty('evictions');
    // The same counters in the tenant's metrics (admin API), per upstream.
    const metrics = (await adminCall(h.platform, 'GET', '/tenants/acme/metrics')).body;
    expect(metrics.responseCache.docs).toMatchObject({ hits: after.hits, misses: after.misses, evictions: after.evictions });
  });

  it('never shares an entry across roles or tenants: a lower role with a narrower tool policy, another tenant with the same upstream name and URL', async () => {
    const admin = await connect(acme.admin);
    const secret = await lookup(admin, 'x', 'secret_lookup');
    expect(await lookup(admin, 'x', 'secret_lookup')).toBe(secret);
    expect(calls('tools/call:secret_lookup')).toBe(1);
    // The same request from roles the tenant's policy excludes: refused before the cache, no answer leaks.
    for (const key of [acme.member, acme['read-only']]) {
      const c = await connect(key);
      const refused = await c.callTool({ name: 'secret_lookup', arguments: { q: 'x' } }).then(
        (r) => JSON.stringify(r),
        (e: unknown) => String(e),
      );
      expect(refused).toMatch(/requires role "admin"/);
      expect(refused).not.toContain(secret);
    }
    expect(calls('tools/call:secret_lookup')).toBe(1);

    // A tool and a resource every role may use: the read-only role gets its own entries (a miss, a fresh answer).
    const member = await connect(acme.member);
    const memberAnswer = await lookup(member, 'shared');
    const readOnly = await connect(acme['read-only']);
    const lookups = calls('tools/call:lookup');
    const readOnlyAnswer = await lookup(readOnly, 'shared');
    expect(readOnlyAnswer).not.toBe(memberAnswer);
    expect(calls('tools/call:lookup')).toBe(lookups + 1);
    expect(await lookup(readOnly, 'shared')).toBe(readOnlyAnswer);
    const memberDoc = (await readDoc(member)).text;
    const reads = calls('resources/read');
    expect((await readDoc(readOnly)).text).not.toBe(memberDoc);
    expect(calls('resources/read')).toBe(reads + 1);

    // Another tenant registers the same name and the same URL with the same settings: nothing of acme's reaches it.
    const other = await adminCall(h.platform, 'POST', '/tenants/globex/upstreams', { name: 'docs', url: up.url, settings: { responseCache: cacheSettings } });
    expect(other.status, JSON.stringify(other.body)).toBe(201);
    const globexMember = await connect(globex.member);
    const before = calls('tools/call:lookup');
    const globexAnswer = await lookup(globexMember, 'shared');
    expect(globexAnswer).not.toBe(memberAnswer);
    expect(calls('tools/call:lookup')).toBe(before + 1);
    expect((await readDoc(globexMember)).text).not.toBe(memberDoc);
    // globex's admin cannot reach acme's admin-only answer either (its own policy has no minRoles: a miss).
    const globexAdmin = await connect(globex.admin);
    expect(await lookup(globexAdmin, 'x', 'secret_lookup')).not.toBe(secret);
    expect(calls('tools/call:secret_lookup')).toBe(2);
    expect((await cacheState('globex')).hits).toBe(0);
  });

  it('does not cache tools that are not opted in or not annotated read-only and idempotent, error results or JSON-RPC errors', async () => {
    const member = await connect(acme.member);
    for (const tool of ['other_lookup', 'plain_read', 'failing']) {
      const first = await member.callTool({ name: tool, arguments: { q: 'n' } });
      const second = await member.callTool({ name: tool, arguments: { q: 'n' } });
      expect(text(second), tool).not.toBe(text(first));
      expect(calls(`tools/call:${tool}`), tool).toBe(2);
    }
    const reads = calls('resources/read');
    for (let i = 0; i < 2; i++) await expect(member.readResource({ uri: 'cache://missing' })).rejects.toThrow();
    expect(calls('resources/read')).toBe(reads + 2);
  });

  it('is invalidated by the upstream change notifications the gateway sees, and by a configuration change', async () => {
    const member = await connect(acme.member);
    const steps: Array<{ kind: 'resource-updated' | 'resources' | 'prompts' | 'tools'; read: () => Promise<string>; count: string }> = [
      { kind: 'resource-updated', read: async () => (await readDoc(member)).text, count: 'resources/read' },
      { kind: 'resources', read: async () => (await readDoc(member)).text, count: 'resources/read' },
      {
        kind: 'prompts',
        read: async () => JSON.stringify((await member.getPrompt({ name: 'greet', arguments: { name: 'Bo' } })).messages),
        count: 'prompts/get',
      },
      { kind: 'tools', read: () => lookup(member, 'inv'), count: 'tools/call:lookup' },
    ];
    for (const step of steps) {
      const cached = await step.read();
      expect(await step.read(), step.kind).toBe(cached); // cached now
      const invalidations = (await cacheState('acme')).invalidations;
      await up.notify(step.kind);
      await eventually(async () => (await cacheState('acme')).invalidations > invalidations, `invalidation by ${step.kind}`);
      await sleep(500); // every gateway session connected to the upstream gets the notification: let them all land
      const n = calls(step.count);
      expect(await step.read(), step.kind).not.toBe(cached);
      expect(calls(step.count), step.kind).toBe(n + 1);
    }
    // resources/updated of another URI leaves this one cached.
    const doc = (await readDoc(member)).text;
    await up.notify('resource-updated', 'cache://other');
    await sleep(500);
    expect((await readDoc(member)).text).toBe(doc);

    // A PATCH (any change of the registration) drops every entry.
    const answer = await lookup(member, 'patch');
    expect((await adminCall(h.platform, 'PATCH', '/tenants/acme/upstreams/docs', { settings: { retries: 1 } })).status).toBe(200);
    expect(await lookup(member, 'patch')).not.toBe(answer);
  });

  it('bounds the TTL (5 minutes to 1 hour), keeps the setting across other PATCHes, and is set with one CLI command', async () => {
    const patch = (settings: unknown) => adminCall(h.platform, 'PATCH', '/tenants/acme/upstreams/docs', { settings });
    for (const ttlMs of [299_999, 3_600_001, 0]) {
      const res = await patch({ responseCache: { enabled: true, ttlMs } });
      expect(res.status, String(ttlMs)).toBe(400);
      expect(res.body.error.code).toBeTypeOf('string');
      expect(res.body.error.message).toMatch(/responseCache\.ttlMs must be at (least|most)/);
    }
    expect((await patch({ responseCache: { ttlMs: 600_000 } })).status).toBe(400); // enabled must be stated
    const refusedCreate = await adminCall(h.platform, 'POST', '/tenants/acme/upstreams', {
      name: 'docs-short',
      url: up.url,
      settings: { responseCache: { enabled: true, ttlMs: 60_000 } },
    });
    expect(refusedCreate.status).toBe(400);
    expect((await patch({ responseCache: { enabled: true, ttlMs: 3_600_000, tools: ['lookup'] } })).status).toBe(200);
    expect((await patch({ retries: 4 })).status).toBe(200);
    const kept = await patch({ healthIntervalMs: 120_000 });
    // A PATCH changes only the settings it names (before, a partial settings object reset the others to their defaults).
    expect(kept.body.settings.responseCache).toEqual({ enabled: true, ttlMs: 3_600_000, tools: ['lookup'] });
    expect(kept.body.settings).toMatchObject({ retries: 4, healthIntervalMs: 120_000 });

    const cli = await runNode(
      join(ROOT, 'scripts', 'smcp.ts'),
      ['--url', h.platform.url, 'upstream', 'cache', 'acme', 'docs', 'on', '--ttl', '10', '--tools', 'lookup,secret_lookup'],
      {
        ...process.env,
        SMCP_TOKEN: h.platform.adminToken,
      },
    );
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout).settings.responseCache).toEqual({ enabled: true, ttlMs: 600_000, tools: ['lookup', 'secret_lookup'] });
    const tooLong = await runNode(join(ROOT, 'scripts', 'smcp.ts'), ['--url', h.platform.url, 'upstream', 'cache', 'acme', 'docs', 'on', '--ttl', '61'], {
      ...process.env,
      SMCP_TOKEN: h.platform.adminToken,
    });
    expect(tooLong.code).not.toBe(0);
    expect(tooLong.stdout + tooLong.stderr).toMatch(/at most/);

    // Off: nothing is cached any more.
    expect((await patch({ responseCache: { enabled: false } })).status).toBe(200);
    const member = await connect(acme.member);
    const n = calls('tools/call:lookup');
    await lookup(member, 'off');
    await lookup(member, 'off');
    expect(calls('tools/call:lookup')).toBe(n + 2);
    expect((await patch({ responseCache: cacheSettings })).status).toBe(200);
  });

  it('caches 2026-07-28 clients’ reads too (the stateless lane: tools, resources, prompts), per role', async () => {
    const modern = await connectV2(`${h.platform.url}/servers/docs/mcp`, { pin: '2026-07-28' }, { apiKey: acme.member });
    clients.push(modern);
    const n = calls('tools/call:lookup');
    const first = text(await modern.callTool({ name: 'lookup', arguments: { q: 'modern' } }));
    expect(first).toMatch(/^lookup modern #\d+$/);
    expect(text(await modern.callTool({ name: 'lookup', arguments: { q: 'modern' } }))).toBe(first);
    expect(calls('tools/call:lookup')).toBe(n + 1);
    // Resources and prompts, now relayed on this lane too: cached the same way.
    const reads = calls('resources/read');
    const doc = ((await modern.readResource({ uri: 'cache://other' })).contents[0] as { text: string }).text;
    expect(((await modern.readResource({ uri: 'cache://other' })).contents[0] as { text: string }).text).toBe(doc);
    expect(calls('resources/read')).toBe(reads + 1);
    const prompts = calls('prompts/get');
    const greeting = JSON.stringify((await modern.getPrompt({ name: 'greet', arguments: { name: 'Eve' } })).messages);
    expect(JSON.stringify((await modern.getPrompt({ name: 'greet', arguments: { name: 'Eve' } })).messages)).toBe(greeting);
    expect(calls('prompts/get')).toBe(prompts + 1);
    const readOnly = await connectV2(`${h.platform.url}/servers/docs/mcp`, { pin: '2026-07-28' }, { apiKey: acme['read-only'] });
    clients.push(readOnly);
    expect(text(await readOnly.callTool({ name: 'lookup', arguments: { q: 'modern' } }))).not.toBe(first);
    expect(calls('tools/call:lookup')).toBe(n + 2);
  });
});
