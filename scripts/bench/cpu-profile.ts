/**
 * CPU profiles of a local platform under load, for `npm run bench:profile` and `BENCH_PROFILE=1 npm
 * run bench:noisy`: V8's sampling profiler in the platform's workerd, through wrangler's inspector
 * proxy, summarised as the functions with the most self and total time. Development tools: samples
 * of one process, not benchmark figures.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A minimal Chrome DevTools Protocol session over the inspector's WebSocket. */
export async function inspector(port: number): Promise<{ call(method: string, params?: object): Promise<unknown>; close(): void }> {
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

/** Frames that are not the platform's work: the thread waiting, and V8's own unattributed time. */
const NOT_BUSY = new Set(['(idle)', '(program)']);

/** A profile's samples: the time they cover, and each busy one's duration (ms) and stack (leaf first). */
export interface Samples {
  sampledMs: number;
  busyMs: number;
  busy: Array<{ ms: number; stack: CallFrame[] }>;
}

/** The one walk of a profile's samples. */
export function samplesOf(profile: CpuProfile): Samples {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  let sampledMs = 0;
  let busyMs = 0;
  const busy: Array<{ ms: number; stack: CallFrame[] }> = [];
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    sampledMs += ms;
    if (NOT_BUSY.has(byId.get(id)!.callFrame.functionName)) return;
    const stack: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!.callFrame);
    busy.push({ ms, stack });
    busyMs += ms;
  });
  return { sampledMs, busyMs, busy };
}

/** Over busy samples: self time per function (name, file, line), and total time per function including callees. */
export function summarize({ busy }: Samples): { self: Map<string, number>; total: Map<string, number> } {
  const label = (f: CallFrame) => `${f.functionName || '(anonymous)'}  ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  const add = (m: Map<string, number>, k: string, ms: number) => m.set(k, (m.get(k) ?? 0) + ms);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const { ms, stack } of busy) {
    add(self, label(stack[0]!), ms);
    for (const l of new Set(stack.map(label))) add(total, l, ms);
  }
  return { self, total };
}

/**
 * The platform's audit code by where it runs: in the request's turn (building the event and
 * handing it to the isolate's batcher) and after it (the batch's delivery call, the outboxes'
 * shipments, the audit store's ingest). What auditing costs, now that no switch turns it off
 * (issue 16): the share of busy CPU under these.
 */
export const AUDIT_GROUPS: Record<string, string[]> = {
  'audit in the request path (recordAudit: build + hand to the batcher)': ['recordAudit', 'recordAuditBatched'],
  'audit off the request path (batched delivery, shipments, audit store ingest)': ['sendBatch', 'shipAll', 'ingest'],
};

/** Share of busy time with any of `names` on the stack (each sample counted once per group). */
export function groupShares({ busy, busyMs }: Samples, groups: Record<string, string[]>): Map<string, number> {
  const hits = new Map<string, number>();
  for (const { ms, stack } of busy) {
    const names = new Set(stack.map((f) => f.functionName));
    for (const [group, members] of Object.entries(groups)) if (members.some((n) => names.has(n))) hits.set(group, (hits.get(group) ?? 0) + ms);
  }
  return new Map(Object.keys(groups).map((g) => [g, busyMs > 0 ? (hits.get(g) ?? 0) / busyMs : 0]));
}

/** Profile whatever `load` does in the workerd behind `inspectorPort`; prints the summary and writes the `.cpuprofile`. */
export async function profileDuring<T>(inspectorPort: number, label: string, load: () => Promise<T>, perCall?: (result: T) => number): Promise<T> {
  const devtools = await inspector(inspectorPort);
  await devtools.call('Profiler.enable');
  await devtools.call('Profiler.setSamplingInterval', { interval: 200 });
  await devtools.call('Profiler.start');
  const result = await load();
  const { profile } = (await devtools.call('Profiler.stop')) as { profile: CpuProfile };
  devtools.close();
  const file = join(tmpdir(), `smcp-${label}-${Date.now()}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const samples = samplesOf(profile);
  const { sampledMs, busyMs: busy } = samples;
  const { self, total } = summarize(samples);
  const calls = perCall?.(result);
  console.log(
    `sampled ${sampledMs.toFixed(0)} ms, busy ${busy.toFixed(0)} ms (${((busy / sampledMs) * 100).toFixed(0)}%)${calls ? `, ${(busy / Math.max(1, calls)).toFixed(3)} ms busy per call` : ''}`,
  );
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .filter(([k]) => !k.startsWith('(root)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `${((v / busy) * 100).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  const n = Number(process.env.PROFILE_TOP ?? 40);
  console.log(`\nself time (share of busy):\n${top(self, n)}`);
  console.log(`\ntotal time including callees:\n${top(total, n)}`);
  console.log('\nshare of busy CPU (and what the rest would gain without it: 1 / (1 - share)):');
  for (const [group, share] of groupShares(samples, AUDIT_GROUPS))
    console.log(`${(share * 100).toFixed(1).padStart(5)}%  ×${(1 / (1 - share)).toFixed(3)}  ${group}`);
  console.log(`\nprofile: ${file}`);
  return result;
}
