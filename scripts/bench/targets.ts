/**
 * Starting the benchmark targets on this machine: one `wrangler dev` instance of the bench Worker
 * per Worker variant (so each has its own workerd and its memory can be told apart) and the Node
 * SDK peer. Every variant but the floor gets a member API key for a seeded tenant, through the
 * admin API, with the tenant's and the key's limits raised for load (as an operator would).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admin, raiseLimitsForLoad, ROOT, startPlatform, type RunningPlatform } from '../lib/local-platform.ts';
import { MODERN_TOOL, PLATFORM_SERVER, writeBenchConfig } from './bench-config.ts';
import { cpuMs, type MemoryTarget } from './memory.ts';
import type { Target } from './mcp-http.ts';
import type { Variant } from './report.ts';

export interface Started {
  targets: Map<Variant, Target>;
  memory: MemoryTarget[];
  /** Each Worker variant's V8 inspector port (scripts/bench-profile.ts). */
  inspectorPorts: Map<Variant, number>;
  stop(): Promise<void>;
}

async function seededKey(p: RunningPlatform): Promise<string> {
  const tenant = await admin(p, '/tenants', { id: 'bench', name: 'Bench', servers: [PLATFORM_SERVER] });
  if (tenant.status !== 201) throw new Error(`seeding tenant: ${tenant.status} ${JSON.stringify(tenant.body)}`);
  const key = await admin(p, '/tenants/bench/keys', { name: 'bench', role: 'member' });
  if (key.status !== 201) throw new Error(`creating key: ${key.status} ${JSON.stringify(key.body)}`);
  await raiseLimitsForLoad(p, 'bench', [key.body.id as string]);
  return key.body.key as string;
}

function startPeer(token: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'bench', 'peer-server.ts')], {
      cwd: ROOT,
      env: { ...process.env, PEER_PORT: '0', PEER_TOKEN: token },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`peer server exited ${code}: ${out}`)));
  });
}

/** Start the variants named in `wanted`: one `wrangler dev` per Worker variant (the unaudited one with its own config), and the peer. */
export async function startTargets(wanted: readonly Variant[]): Promise<Started> {
  const configs = { platform: writeBenchConfig(), unaudited: writeBenchConfig('BenchUnauditedServer') };
  const dirs: string[] = [];
  const secret = randomBytes(32).toString('hex');
  const launch = async (variant: Variant) => {
    const stateDir = mkdtempSync(join(tmpdir(), `smcp-bench-${variant}-`));
    dirs.push(stateDir);
    const config = variant === 'unaudited' ? configs.unaudited : configs.platform;
    return startPlatform({ stateDir, config, adminToken: `bench-operator-${randomBytes(16).toString('hex')}`, secret });
  };
  const workers = new Map<Variant, RunningPlatform>();
  const needed = wanted.filter((v) => v !== 'peer');
  const started = await Promise.allSettled(needed.map(async (v) => workers.set(v, await launch(v))));
  const peerToken = randomBytes(24).toString('base64url');
  let peer: { child: ChildProcess; port: number } | null = null;

  const stop = async () => {
    await Promise.all([...workers.values()].map((p) => p.stop()));
    if (peer && peer.child.exitCode === null) {
      const exited = new Promise((r) => peer!.child.once('exit', r));
      peer.child.kill('SIGTERM');
      await exited;
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await stop();
    throw (failed as PromiseRejectedResult).reason;
  }

  const targets = new Map<Variant, Target>();
  const memory: MemoryTarget[] = [];
  const inspectorPorts = new Map<Variant, number>();
  for (const [variant, p] of workers) {
    inspectorPorts.set(variant, p.inspectorPort);
    const token = variant === 'floor' ? null : await seededKey(p);
    const path = {
      floor: '/bench/floor',
      bare: '/bench/bare/mcp',
      platform: `/servers/${PLATFORM_SERVER}/mcp`,
      unaudited: `/servers/${PLATFORM_SERVER}/mcp`,
      modern: `/servers/${PLATFORM_SERVER}/mcp`,
    }[variant as Exclude<Variant, 'peer'>];
    const processes: MemoryTarget = { variant, pid: p.process.pid!, comm: 'workerd', group: true };
    const base = { name: variant, port: p.port, host: `localhost:${p.port}`, path, token, cpuMs: () => cpuMs(processes) };
    // The modern lane: the same route as the platform variant, spoken statelessly (MCP 2026-07-28).
    targets.set(
      variant,
      variant === 'modern' ? { ...base, sessions: false, era: '2026-07-28', tool: MODERN_TOOL } : { ...base, sessions: variant !== 'floor' },
    );
    memory.push(processes);
  }
  if (wanted.includes('peer')) {
    peer = await startPeer(peerToken);
    const processes: MemoryTarget = { variant: 'peer', pid: peer.child.pid!, group: false };
    targets.set('peer', {
      name: 'peer',
      port: peer.port,
      host: `127.0.0.1:${peer.port}`,
      path: '/mcp',
      token: peerToken,
      sessions: true,
      cpuMs: () => cpuMs(processes),
    });
    memory.push(processes);
  }
  return { targets, memory, inspectorPorts, stop };
}
