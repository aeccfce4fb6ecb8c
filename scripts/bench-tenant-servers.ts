/**
 * `npm run bench:tenant-servers`: what a tenant-deployed server costs against a compiled-in hosted
 * server, in one run on one `wrangler dev`. The official SDK client (API key) calls:
 *
 * - warm: a deployed module's trivial tool (`echo`, sandbox isolate already loaded) and the
 *   compiled-in `everything` server's trivial tool (`test_simple_text`), sequentially after a warm-up;
 * - cold: the first `tools/call` of a freshly deployed server in a fresh session (new module
 *   version, so the loader builds a new isolate: fetch the code from D1, load, describe, call),
 *   measured on the platform side as the call's latency, one fresh server per sample.
 *
 * Targets (docs/performance.md): warm p50 within 1.2x of the compiled-in server's, cold under 50 ms.
 * Figures are local (workerd under wrangler dev on this machine), not production.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { admin, raiseLimitsForLoad, startPlatform, type RunningPlatform } from './lib/local-platform.ts';
import { GOOD_MODULE } from '../test/support/tenant-modules.ts';

const CALLS = Number(process.env.BENCH_CALLS ?? 300);
const COLD = Number(process.env.BENCH_COLD ?? 15);
const WARMUP = 30;

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const row = (label: string, t: number[]) =>
  `${label.padEnd(34)} p50 ${pct(t, 50).toFixed(2).padStart(7)} ms   p95 ${pct(t, 95).toFixed(2).padStart(7)} ms   p99 ${pct(t, 99).toFixed(2).padStart(7)} ms   (n=${t.length})`;

async function connect(platform: RunningPlatform, name: string, key: string): Promise<Client> {
  const client = new Client({ name: 'bench-tenant-servers', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${platform.url}/servers/${name}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
  );
  return client;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Alternate the two clients call by call, so machine noise falls on both alike. */
async function warm(module: Client, compiled: Client): Promise<[number[], number[]]> {
  const m: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < WARMUP + CALLS; i++) {
    const tm = await timed(() => module.callTool({ name: 'echo', arguments: { text: `call ${i}` } }));
    const tc = await timed(() => compiled.callTool({ name: 'test_simple_text', arguments: {} }));
    if (i >= WARMUP) {
      m.push(tm);
      c.push(tc);
    }
  }
  return [m.sort((a, b) => a - b), c.sort((a, b) => a - b)];
}

const stateDir = mkdtempSync(join(tmpdir(), 'smcp-bench-mod-'));
const platform = await startPlatform({ stateDir, adminToken: 'bench-operator-token-0123456789', secret: 'bench-secret-'.padEnd(48, 'b') });
try {
  await admin(platform, '/tenants', { id: 'bench', name: 'bench', servers: ['everything'] });
  const created = (await admin(platform, '/tenants/bench/keys', { name: 'bench', role: 'member' })).body;
  // A benchmark of one client is far past the default per-key rate: the operator raises it, as for any busy integration.
  await raiseLimitsForLoad(platform, 'bench', [created.id]);
  const key = created.key as string;
  const deploy = async (name: string, module: string) => {
    const res = await fetch(`${platform.url}/admin/api/tenants/bench/servers/${name}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${platform.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ module }),
    });
    if (res.status !== 201) throw new Error(`deploy ${name}: ${res.status} ${await res.text()}`);
  };

  await deploy('bench-echo', GOOD_MODULE);
  const module = await connect(platform, 'bench-echo', key);
  const compiled = await connect(platform, 'everything', key);
  const [m, c] = await warm(module, compiled);

  // Cold: each sample is a new server (its own name and code), a new session, then its first call.
  const cold: number[] = [];
  for (let i = 0; i < COLD; i++) {
    const name = `bench-cold-${i}`;
    await deploy(name, `${GOOD_MODULE}\n// variant ${i} ${Date.now()}`);
    const client = await connect(platform, name, key);
    cold.push(await timed(() => client.callTool({ name: 'echo', arguments: { text: 'first' } })));
    await client.close();
  }
  cold.sort((a, b) => a - b);

  console.log(`tenant-deployed server vs compiled-in: ${CALLS} sequential tools/call each after ${WARMUP} warm-up calls (alternating), ${COLD} cold servers\n`);
  console.log(row('compiled-in (everything)', c));
  console.log(row('deployed module, warm', m));
  console.log(row('deployed module, cold first call', cold));
  const ratio = pct(m, 50) / pct(c, 50);
  console.log(
    `\nwarm p50 ratio deployed/compiled-in: ${ratio.toFixed(2)}x (target <= 1.2x: ${ratio <= 1.2 ? 'met' : 'NOT met'}); p99 ratio ${(pct(m, 99) / pct(c, 99)).toFixed(2)}x`,
  );
  console.log(
    `cold first call p50: ${pct(cold, 50).toFixed(1)} ms (target < 50 ms: ${pct(cold, 50) < 50 ? 'met' : 'NOT met'}); cold p50 / compiled-in warm p50: ${(pct(cold, 50) / pct(c, 50)).toFixed(1)}x`,
  );
  await Promise.all([module.close(), compiled.close()]);
} finally {
  await platform.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
