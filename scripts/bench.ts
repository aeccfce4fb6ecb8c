/**
 * `npm run bench`: floor, bare McpAgent, the platform (sessionful, the same server unaudited as
 * `unaudited`, and its stateless MCP 2026-07-28 lane as `modern`) and the Node SDK peer, all in one run on
 * this machine so the ratios hold however noisy it is. Prints the figures and ratios, writes them
 * to docs/performance.md, then runs scripts/bench-noisy-tenant.ts if it exists.
 *
 * Sizes (env): BENCH_DURATION_MS (steady phase length per variant, default 10000),
 * BENCH_WARMUP_MS (the steady loop run unmeasured before it, per variant and phase, default 2000),
 * BENCH_CONCURRENCY (default "1,10,100"), BENCH_COLD (cold sessions, default 30),
 * BENCH_SESSIONS (sessions in a row, default 1000), BENCH_ROUNDS (how many alternating rounds
 * each phase is split into, default 8: 1.25 s slices), BENCH_VARIANTS (default floor,bare,platform,unaudited,modern,peer; modern is the platform's stateless 2026-07-28 lane; unaudited is the platform's server with its session's audit events dropped, in the steady phases only: what auditing costs, while npm run bench:profile (its share of CPU) and npm run bench:audit-cost (piece by piece) say where),
 * BENCH_WRITE_DOCS=0 to leave docs/performance.md alone.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib/local-platform.ts';
import { closeAgents } from './bench/mcp-http.ts';
import { MemorySampler } from './bench/memory.ts';
import { DEFAULT_VARIANTS, markdown, targets as checkTargets, VARIANTS, writeDocs, type Variant } from './bench/report.ts';
import type { PhaseResult } from './bench/stats.ts';
import { startTargets } from './bench/targets.ts';
import { cold, DEFAULT_WARMUP_MS, inARow, steady } from './bench/workloads.ts';

const num = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number`);
  return v;
};
const durationMs = num('BENCH_DURATION_MS', 10000);
const warmupMs = num('BENCH_WARMUP_MS', DEFAULT_WARMUP_MS);
const concurrency = (process.env.BENCH_CONCURRENCY ?? '1,10,100')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const coldSamples = num('BENCH_COLD', 30);
const inARowCount = num('BENCH_SESSIONS', 1000);
const rounds = Math.max(1, num('BENCH_ROUNDS', 8));
const variants = (process.env.BENCH_VARIANTS?.split(',') ?? [...DEFAULT_VARIANTS]).filter((v): v is Variant => (VARIANTS as readonly string[]).includes(v));
const settings = `steady ${durationMs} ms per variant (after ${warmupMs} ms unmeasured) at concurrency ${concurrency.join(', ')}; ${coldSamples} cold sessions; ${inARowCount} sessions in a row; variants ${variants.join(', ')}, alternating in ${rounds} rounds`;

const began = Date.now();
const say = (line: string) => console.log(`[bench ${((Date.now() - began) / 1000).toFixed(0).padStart(4)}s] ${line}`);
say(`starting ${variants.join(', ')} (${settings})`);
const started = await startTargets(variants);
const sampler = new MemorySampler(started.memory);
sampler.start();
const results: PhaseResult[] = [];
const record = (r: PhaseResult) => {
  results.push(r);
  say(
    `${r.phase.padEnd(24)} ${r.variant.padEnd(16)} ${r.throughput.toFixed(0).padStart(6)} ops/s  p50 ${r.p50?.toFixed(2) ?? '–'} ms  p99 ${r.p99?.toFixed(2) ?? '–'} ms  CPU ${r.cpuMsPerOp?.toFixed(2) ?? '–'} ms/op  errors ${r.errors}${r.errorSamples.length ? ` (${r.errorSamples[0]})` : ''}`,
  );
};

try {
  const lanes = variants.map((v) => started.targets.get(v)!);
  for (const c of concurrency) (await steady(lanes, c, durationMs, rounds, warmupMs)).forEach(record);
  // The unaudited variant answers one question (what auditing costs under steady load); it sits out the session phases.
  const sessionLanes = lanes.filter((l) => l.name !== 'unaudited');
  if (coldSamples > 0) (await cold(sessionLanes, coldSamples, rounds)).forEach(record);
  if (inARowCount > 0) (await inARow(sessionLanes, inARowCount, rounds)).forEach(record);
} finally {
  sampler.stop();
  closeAgents();
  await started.stop();
}

const report = { results, peaks: sampler.peaks(), settings };
const section = markdown(report);
console.log(`\n${section}\n`);
if (process.env.BENCH_WRITE_DOCS !== '0') say(`wrote ${writeDocs(section)}`);
say(checkTargets(report).met ? 'all targets met' : 'some targets NOT met (see above)');

const noisy = join(ROOT, 'scripts', 'bench-noisy-tenant.ts');
if (existsSync(noisy)) {
  say('running scripts/bench-noisy-tenant.ts');
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [noisy], { cwd: ROOT, stdio: 'inherit' });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  if (code !== 0) {
    say(`bench-noisy-tenant.ts exited ${code}`);
    process.exitCode = code;
  }
}
say('done');
