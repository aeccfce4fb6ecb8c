/**
 * `npm run bench:gateway`: added latency of the gateway. The same official SDK client calls the
 * same upstream tool (a real SDK server on loopback) directly and through the platform
 * (`/servers/<name>/mcp` on `wrangler dev`, API key, choke point, breaker admission), sequentially,
 * after a warm-up, and prints percentiles and the difference. Figures are local (workerd under
 * wrangler dev on this machine), not production. Beside them: a balanced call (two replicas,
 * round-robin) and cached reads (an opted-in read-only, idempotent tool and a resource answered
 * from the response cache, docs/gateway.md "Response caching").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { admin, raiseLimitsForLoad, startPlatform } from './lib/local-platform.ts';
import { startUpstream } from '../test/support/upstream-fixture.ts';
import { startModernUpstream } from '../test/support/modern-upstream-fixture.ts';
import { Client as V2Client, StreamableHTTPClientTransport as V2Transport } from '@modelcontextprotocol/client';
import { startCacheUpstream } from '../test/support/cache-upstream.ts';

const CALLS = Number(process.env.BENCH_CALLS ?? 300);
const WARMUP = 30;

async function measure(client: Client, tool = 'echo'): Promise<number[]> {
  return measureOp(() => client.callTool({ name: tool, arguments: tool === 'echo' ? { text: `call ${Math.random()}` } : {} }));
}

async function measureOp(op: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < WARMUP + CALLS; i++) {
    const start = performance.now();
    await op();
    if (i >= WARMUP) times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b);
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const row = (label: string, t: number[]) =>
  `${label.padEnd(22)} p50 ${pct(t, 50).toFixed(2).padStart(7)} ms   p95 ${pct(t, 95).toFixed(2).padStart(7)} ms   p99 ${pct(t, 99).toFixed(2).padStart(7)} ms`;

const stateDir = mkdtempSync(join(tmpdir(), 'smcp-bench-gw-'));
const platform = await startPlatform({ stateDir, adminToken: 'bench-operator-token-0123456789', secret: 'bench-secret-'.padEnd(48, 'b') });
const upstream = await startUpstream();
const replica2 = await startUpstream();
const modernUpstream = await startModernUpstream();
const cacheUpstream = await startCacheUpstream();
try {
  await admin(platform, '/tenants', { id: 'bench', name: 'bench', servers: ['notes'] });
  const created = (await admin(platform, '/tenants/bench/keys', { name: 'bench', role: 'member' })).body;
  await raiseLimitsForLoad(platform, 'bench', [created.id]);
  const key = created.key as string;
  const reg = await admin(platform, '/tenants/bench/upstreams', { name: 'echo-upstream', url: upstream.url });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);

  const direct = new Client({ name: 'bench-direct', version: '1' });
  await direct.connect(new StreamableHTTPClientTransport(new URL(upstream.url)));
  const gateway = new Client({ name: 'bench-gateway', version: '1' });
  await gateway.connect(
    new StreamableHTTPClientTransport(new URL(`${platform.url}/servers/echo-upstream/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
  );
  await gateway.listTools();
  // A hosted server through the same platform path, for what the platform costs without the gateway.
  const hosted = new Client({ name: 'bench-hosted', version: '1' });
  await hosted.connect(
    new StreamableHTTPClientTransport(new URL(`${platform.url}/servers/notes/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
  );

  const d = await measure(direct);
  const g = await measure(gateway);
  const n = await measure(hosted, 'list_notes');
  // A balanced call: an upstream with two replicas (round-robin), one new session per 10 calls so sessions spread.
  const balanced = await admin(platform, '/tenants/bench/upstreams', {
    name: 'balanced',
    replicas: [{ url: upstream.url }, { url: replica2.url }],
    balance: 'round-robin',
  });
  if (balanced.status !== 201) throw new Error(`register balanced: ${balanced.status} ${JSON.stringify(balanced.body)}`);
  const b: number[] = [];
  for (let s = 0; s < Math.ceil((WARMUP + CALLS) / 10); s++) {
    const client = new Client({ name: 'bench-balanced', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${platform.url}/servers/balanced/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
    );
    for (let i = 0; i < 10; i++) {
      const start = performance.now();
      await client.callTool({ name: 'echo', arguments: { text: `b ${i}` } });
      if (s * 10 + i >= WARMUP) b.push(performance.now() - start);
    }
    await client.close();
  }
  b.sort((x, y) => x - y);
  // The protocol eras on both sides (docs/gateway.md, "Protocol eras on both sides"): a 2026-07-28 upstream
  // (SDK v2 server, stateless requests) and the 2025 one above, called by a 2026-07-28 client (SDK v2, pinned)
  // and by a 2025 client.
  const modernReg = await admin(platform, '/tenants/bench/upstreams', { name: 'modern-upstream', url: modernUpstream.url });
  if (modernReg.status !== 201) throw new Error(`register modern: ${modernReg.status} ${JSON.stringify(modernReg.body)}`);
  const v2 = async (name: string) => {
    const c = new V2Client({ name: 'bench-v2', version: '1' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await c.connect(new V2Transport(new URL(`${platform.url}/servers/${name}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
    return c;
  };
  const eras: Array<[string, { callTool(p: { name: string; arguments: Record<string, unknown> }): Promise<unknown>; close(): Promise<void> }]> = [
    ['2026 client → 2026 up', await v2('modern-upstream')],
    ['2026 client → 2025 up', await v2('echo-upstream')],
  ];
  const legacyOnModern = new Client({ name: 'bench-legacy-modern', version: '1' });
  await legacyOnModern.connect(
    new StreamableHTTPClientTransport(new URL(`${platform.url}/servers/modern-upstream/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
  );
  eras.push(['2025 client → 2026 up', legacyOnModern as never]);
  const eraTimes = new Map<string, number[]>();
  for (const [label, client] of eras) eraTimes.set(label, await measure(client as never));

  // Cached reads: the same lookup and the same resource read again and again, answered from the response cache after the first.
  const cachedReg = await admin(platform, '/tenants/bench/upstreams', {
    name: 'cached',
    url: cacheUpstream.url,
    settings: { responseCache: { enabled: true, ttlMs: 3_600_000, tools: ['lookup'] } },
  });
  if (cachedReg.status !== 201) throw new Error(`register cached: ${cachedReg.status} ${JSON.stringify(cachedReg.body)}`);
  const cachedClient = new Client({ name: 'bench-cached', version: '1' });
  await cachedClient.connect(
    new StreamableHTTPClientTransport(new URL(`${platform.url}/servers/cached/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
  );
  const ct = await measureOp(() => cachedClient.callTool({ name: 'lookup', arguments: { q: 'same' } }));
  const cr = await measureOp(() => cachedClient.readResource({ uri: 'cache://doc' }));
  const counters = (await admin(platform, '/tenants/bench/upstreams/cached', undefined, 'GET')).body.state.responseCache;
  await cachedClient.close();
  console.log(`gateway added latency: ${CALLS} sequential tools/call (echo), after ${WARMUP} warm-up calls each\n`);
  console.log(row('direct to upstream', d));
  console.log(row('through the gateway', g));
  console.log(row('hosted server (notes)', n));
  console.log(row('balanced, 2 replicas', b));
  for (const [label, times] of eraTimes) console.log(row(label, times));
  console.log('(the 2025 client → 2025 upstream row is "through the gateway")');
  console.log(row('cached tools/call', ct));
  console.log(row('cached resources/read', cr));
  console.log(
    `\nadded by the platform + gateway at p50: ${(pct(g, 50) - pct(d, 50)).toFixed(2)} ms (ratio ${(pct(g, 50) / pct(d, 50)).toFixed(1)}x; p99 ratio ${(pct(g, 99) / pct(d, 99)).toFixed(1)}x)`,
  );
  console.log(`of which the gateway's own share (gateway p50 - hosted p50): ${(pct(g, 50) - pct(n, 50)).toFixed(2)} ms`);
  console.log(
    `cached tools/call vs through the gateway at p50: ${(pct(ct, 50) - pct(g, 50)).toFixed(2)} ms; upstream calls for ${WARMUP + CALLS} cached lookups: ${cacheUpstream.counts['tools/call'] ?? 0}, reads: ${cacheUpstream.counts['resources/read'] ?? 0}; cache counters ${JSON.stringify(counters)}`,
  );
  await Promise.all([direct.close(), gateway.close(), hosted.close(), ...eras.map(([, c]) => c.close())]);
} finally {
  await upstream.close();
  await replica2.close();
  await cacheUpstream.close();
  await modernUpstream.close();
  await platform.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
