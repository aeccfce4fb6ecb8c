/**
 * The benchmark's workloads. Each runs every variant in alternating rounds (floor, bare,
 * platform, peer, floor, …) and pools each variant's samples, so slow drift on a shared machine
 * (other processes, thermal, GC) lands on all variants alike instead of on whichever ran last.
 *
 * The order of the variants changes from round to round (`shuffled`), so work one variant leaves
 * behind for later does not fall on the same other variant every time.
 *
 * - steady: N sessions initialize, then each calls the trivial tool back to back;
 * - cold: one new session at a time, timed from initialize to the first tool result;
 * - in a row: sessions opened and used one after another (initialize + initialized + one tools/call),
 *   kept open to the end (on the platform the key's session quota ends the least recently used ones).
 *
 * The stateless (2026-07-28) lane has no sessions: "open" is a no-op, so steady is N concurrent
 * callers, cold is a first call with nothing before it, and it sits out "in a row".
 */
import { performance } from 'node:perf_hooks';
import { callTool, closeSession, openSession, type Target } from './mcp-http.ts';
import { Recorder, type PhaseResult } from './stats.ts';

/** One variant's state through a phase. */
interface Lane {
  target: Target;
  rec: Recorder;
  wallMs: number;
  /** Sessions to close when the phase ends. */
  ids: Array<string | null>;
  /** Completed operations per second in each of its slices, in round order. */
  perRound: number[];
  /** Calls made unmeasured between rounds (`prepare`): they count in CPU per operation, not in throughput or latency. */
  unmeasured: number;
}

/** Run `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function timed(lane: Lane, work: () => Promise<void>): Promise<void> {
  const start = performance.now();
  const ops = lane.rec.samples.length;
  await work();
  const took = performance.now() - start;
  lane.wallMs += took;
  lane.perRound.push(took > 0 ? ((lane.rec.samples.length - ops) / took) * 1000 : 0);
}

/**
 * What a phase leaves running once its last request is answered (audit deliveries about 50 ms
 * apart, the store's ingest) finishes within this; waited before and after the measured rounds, so
 * each variant's CPU per operation counts the work its operations caused and not the set-up's.
 */
const SETTLE_MS = 500;
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

/**
 * Run `slice` for every lane, `rounds` times, alternating; then close sessions and report. Each
 * lane's CPU per operation is its server processes' CPU time from the first round to the end of
 * the last (plus the settle), over its operations: work left for later counts against the variant
 * that caused it, wherever it ran, and what a process does while idle in other lanes' rounds
 * (timers) is small next to it.
 */
async function interleaved(
  targets: Target[],
  phase: string,
  rounds: number,
  setup: (lane: Lane) => Promise<void>,
  slice: (lane: Lane, round: number) => Promise<void>,
  prepare?: (lane: Lane) => Promise<void>,
): Promise<PhaseResult[]> {
  const lanes: Lane[] = targets.map((target) => ({ target, rec: new Recorder(), wallMs: 0, ids: [], perRound: [], unmeasured: 0 }));
  for (const lane of lanes) await setup(lane);
  await settle();
  const cpuBefore = lanes.map((lane) => lane.target.cpuMs?.() ?? null);
  for (let r = 0; r < rounds; r++)
    for (const lane of shuffled(lanes, r)) {
      await prepare?.(lane);
      await timed(lane, () => slice(lane, r));
    }
  await settle();
  const cpuMsPerOp = lanes.map((lane, i) => {
    const before = cpuBefore[i];
    const after = lane.target.cpuMs?.() ?? null;
    return before == null || after == null || lane.rec.samples.length === 0 ? null : (after - before) / (lane.rec.samples.length + lane.unmeasured);
  });
  for (const lane of lanes) await pool(lane.ids, 10, (id) => closeSession(lane.target, id).catch(() => undefined));
  return lanes.map((lane, i) => ({ ...lane.rec.result(lane.target.name, phase, lane.wallMs), perRound: lane.perRound, cpuMsPerOp: cpuMsPerOp[i] }));
}

/**
 * The lanes in a different order each round (a fixed shuffle per round, so runs are comparable).
 * Work a variant leaves behind runs seconds later (audit shipments: 5 s after the first event, 15 s
 * for a busy session), and with a fixed order and equal slices it landed on the same other variant
 * every round: with five variants and 1.25 s slices at c=100, the stateless lane's shipments fell
 * into the session lane's next slice each time (platform 389 calls/s with the modern variant
 * running, 463 without, in two runs of 2026-11-30 20:40). Shuffled, such work falls on all
 * variants alike, as drift does.
 */
function shuffled<T>(items: T[], round: number): T[] {
  const out = [...items];
  let seed = 0x9e3779b9 ^ (round + 1);
  const next = () => {
    seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
    return ((seed ^ (seed >>> 13)) >>> 0) / 2 ** 32;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Share of `total` for round `r` of `rounds` (the remainder goes to the first rounds). */
const share = (total: number, rounds: number, r: number) => Math.floor(total / rounds) + (r < total % rounds ? 1 : 0);

/** Unmeasured steady loop before each steady phase, per variant (see `steady`). */
export const DEFAULT_WARMUP_MS = 2000;

/**
 * `sessions` concurrent sessions per variant calling the tool in a loop, `durationMs` in all per
 * variant, after `warmupMs` of the same loop that is not measured. The warm-up is by time, not by
 * count: V8 optimises a function only after many calls, and the platform runs more JavaScript per
 * call than bare, so a few calls per session left the platform's first slice at about 60% of its
 * later ones (407, 474, then 569–695 calls/s at c=10 on 2026-11-30) while bare's showed no trend.
 *
 * Before each measured slice every session makes one unmeasured call (`rewarm`). Between two slices
 * of a variant the other variants run, for up to ten slices (a variant first in one round and last
 * in the next), and local workerd evicts a Durable Object idle for about ten seconds: after 12 s
 * idle, 100 sessions made 73–94 calls/s in the next 1.25 s, after 7 s idle 264–375 (2026-12-01
 * 14:40, platform alone). So slices after a long gap measured 100 session objects restarting, not
 * steady calls: the c=100 rounds of the sessionful variants swung between about 55 and 350
 * calls/s, and exactly the slices after a gap of seven or more slices were the slow ones. Restarts
 * are what the cold phase measures; these calls count in CPU per call, nowhere else.
 */
export function steady(targets: Target[], sessions: number, durationMs: number, rounds: number, warmupMs: number): Promise<PhaseResult[]> {
  return interleaved(
    targets,
    `steady c=${sessions}`,
    rounds,
    async (lane) => {
      const opened = await Promise.all(Array.from({ length: sessions }, () => openSession(lane.target)));
      for (const s of opened) {
        if ('error' in s) lane.rec.fail(`open: ${s.error}`);
        else lane.ids.push(s.sessionId);
      }
      // Unmeasured: every session's first calls (Durable Object start), then the loop until V8 has optimised it.
      await callInLoop(lane, warmupMs, () => undefined);
    },
    (lane) => callInLoop(lane, durationMs / rounds, (ok, ms, error) => (ok ? lane.rec.ok(ms) : lane.rec.fail(error ?? 'call failed'))),
    (lane) => rewarm(lane),
  );
}

/** One unmeasured call per session of the lane, at once (a failure is reported like a measured one). */
function rewarm(lane: Lane): Promise<void> {
  return callInLoop(lane, 0, (ok, _ms, error) => {
    lane.unmeasured++;
    if (!ok) lane.rec.fail(error ?? 'call failed');
  });
}

/** Every session of the lane calls the tool back to back for `forMs` (at least once each), reporting each call. */
async function callInLoop(lane: Lane, forMs: number, report: (ok: boolean, ms: number, error?: string) => void): Promise<void> {
  const stopAt = performance.now() + forMs;
  await Promise.all(
    lane.ids.map(async (id) => {
      do {
        const began = performance.now();
        const out = await callTool(lane.target, id);
        report(out.ok, performance.now() - began, out.error);
      } while (performance.now() < stopAt);
    }),
  );
}

/** One session opened and used: initialize → initialized → one `tools/call`, timed from the start to its result. */
async function openAndCall(lane: Lane): Promise<void> {
  const began = performance.now();
  const s = await openSession(lane.target);
  if ('error' in s) return lane.rec.fail(`open: ${s.error}`);
  lane.ids.push(s.sessionId);
  const out = await callTool(lane.target, s.sessionId);
  if (out.ok) lane.rec.ok(performance.now() - began);
  else lane.rec.fail(out.error ?? 'call failed');
}

/** `samples` cold sessions per variant, one at a time: initialize → initialized → first tools/call result. */
export function cold(targets: Target[], samples: number, rounds: number): Promise<PhaseResult[]> {
  return interleaved(
    targets,
    'cold session',
    rounds,
    async () => undefined,
    async (lane, r) => {
      for (let i = 0; i < share(samples, rounds, r); i++) await openAndCall(lane);
    },
  );
}

/**
 * `count` sessions per variant opened and used one after another: initialize, initialized, one
 * `tools/call`; latency per session (open + call), throughput in sessions/s.
 */
export function inARow(targets: Target[], count: number, rounds: number): Promise<PhaseResult[]> {
  // The stateless lane has no session to open: nothing to measure there.
  return interleaved(
    targets.filter((t) => t.era === undefined),
    `${count} sessions in a row`,
    rounds,
    async () => undefined,
    async (lane, r) => {
      for (let i = 0; i < share(count, rounds, r); i++) await openAndCall(lane);
    },
  );
}
