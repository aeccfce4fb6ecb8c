/**
 * `npm run bench:profile`: where a variant's CPU goes under load. Starts one bench variant
 * (BENCH_PROFILE_VARIANT: platform by default, or bare, modern, floor), drives it with the
 * bench's steady workload (BENCH_CONCURRENCY, default 10; BENCH_DURATION_MS, default 8000) while
 * V8's sampling profiler runs in its workerd (through wrangler's inspector proxy), then prints the
 * functions with the most self time and writes the whole `.cpuprofile` (open it in Chrome DevTools).
 * A development tool: the figures are samples of one process, not a benchmark.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeAgents } from './bench/mcp-http.ts';
import { VARIANTS, type Variant } from './bench/report.ts';
import { startTargets } from './bench/targets.ts';
import { steady } from './bench/workloads.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const variant = (process.env.BENCH_PROFILE_VARIANT ?? 'platform') as Variant;
if (!(VARIANTS as readonly string[]).includes(variant) || variant === 'peer')
  throw new Error(`BENCH_PROFILE_VARIANT must be one of ${VARIANTS.filter((v) => v !== 'peer').join(', ')}`);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 10);
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 8000);

/** A minimal Chrome DevTools Protocol session over the inspector's WebSocket. */
async function inspector(port: number): Promise<{ call(method: string, params?: object): Promise<unknown>; close(): void }> {
  const list = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl: string }[];
  const target = list.find((t) => t.webSocketDebuggerUrl);
  if (!target) throw new Error(`no inspector target on port ${port}`);
  // wrangler's inspector proxy wants a local Origin; Node's WebSocket (undici) takes headers as an extension.
  const ws = new WebSocket(target.webSocketDebuggerUrl, { headers: { Origin: 'http://localhost' } } as unknown as string[]);
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve);
    ws.addEventListener('error', reject);
  });
  let next = 0;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data));
    const w = message.id !== undefined ? waiting.get(message.id) : undefined;
    if (!w) return;
    waiting.delete(message.id);
    if (message.error) w.reject(new Error(JSON.stringify(message.error)));
    else w.resolve(message.result);
  });
  return {
    call: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = ++next;
        waiting.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Self time per function (name, file, line), and total time per function including callees. */
function summarize(profile: CpuProfile): { self: Map<string, number>; total: Map<string, number>; sampledMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (f: CallFrame) => `${f.functionName || '(anonymous)'}  ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let sampledMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    sampledMs += ms;
    const node = byId.get(id)!;
    self.set(label(node.callFrame), (self.get(label(node.callFrame)) ?? 0) + ms);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const l = label(byId.get(at)!.callFrame);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + ms);
    }
  });
  return { self, total, sampledMs };
}

const started = await startTargets([variant]);
try {
  const devtools = await inspector(started.inspectorPorts.get(variant)!);
  await devtools.call('Profiler.enable');
  await devtools.call('Profiler.setSamplingInterval', { interval: 200 });
  await devtools.call('Profiler.start');
  const [result] = await steady([started.targets.get(variant)!], concurrency, durationMs, 1);
  const { profile } = (await devtools.call('Profiler.stop')) as { profile: CpuProfile };
  devtools.close();
  const file = join(tmpdir(), `smcp-${variant}-c${concurrency}-${Date.now()}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const { self, total, sampledMs } = summarize(profile);
  const idle = [...self].filter(([k]) => k.startsWith('(idle)')).reduce((n, [, v]) => n + v, 0);
  const busy = sampledMs - idle;
  console.log(`${variant} c=${concurrency}: ${result!.throughput.toFixed(0)} ops/s, p50 ${result!.p50?.toFixed(2)} ms, errors ${result!.errors}`);
  console.log(
    `sampled ${sampledMs.toFixed(0)} ms, busy ${busy.toFixed(0)} ms (${((busy / sampledMs) * 100).toFixed(0)}%), ${(busy / Math.max(1, result!.ops)).toFixed(3)} ms busy per call`,
  );
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(root)') && !k.startsWith('(program)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${((v / busy) * 100).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  console.log(`\nself time (share of busy):\n${top(self, Number(process.env.PROFILE_TOP ?? 40))}`);
  console.log(`\ntotal time including callees:\n${top(total, Number(process.env.PROFILE_TOP ?? 40))}`);
  console.log(`\nprofile: ${file}`);
} finally {
  closeAgents();
  await started.stop();
}
