/**
 * `npm run bench:noisy`: does one noisy tenant slow another? Starts the real platform
 * (`wrangler dev`), seeds a well-behaved tenant and a noisy one with a low request limit, then
 * measures the well-behaved tenant's latency alone and again while the noisy tenant hammers the
 * platform far over its limit. Prints throughput, p50/p99 of the well-behaved tenant in both
 * phases and their ratio, how many noisy requests were refused with 429, and the count of 5xx
 * (which must be 0; the script exits 1 otherwise). Figures are ratios within one run, so the
 * machine's speed cancels out. Before the measured phase the noisy tenant hammers alone for a few
 * seconds: its minute's budget is served then, so the phase measures the well-behaved tenant beside
 * a tenant over its limit (whose next minutes are paced, src/limits/tenant-limiter.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { profileDuring } from './bench/cpu-profile.ts';
import { raiseLimitsForLoad, startPlatform, type RunningPlatform } from './lib/local-platform.ts';

const PHASE_SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const QUIET_SESSIONS = 8; // one API key each: the per-key limit is 600/min
const QUIET_PAUSE_MS = 150; // between a quiet session's calls (about 350 calls/min per key)
const NOISY_WORKERS = 24;
const NOISY_KEYS = 6;
const NOISY_RPM = 60;
const NOISY_WARMUP_SECONDS = 3;
/** Alone and together alternate this many times (BENCH_ROUNDS), PHASE_SECONDS in all for each. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));

interface Tally {
  latencies: number[];
  statuses: Map<number, number>;
}
const tally = (): Tally => ({ latencies: [], statuses: new Map() });

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- admin API JSON; callers read the fields they asserted
async function adminRequest(p: RunningPlatform, method: string, path: string, body: unknown): Promise<any> {
  const res = await fetch(`${p.url}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${p.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

async function seed(p: RunningPlatform, id: string, rpm: number, keys: number): Promise<string[]> {
  await adminRequest(p, 'POST', '/tenants', { id, name: id, servers: ['notes'] });
  const created: Array<{ id: string; key: string }> = [];
  for (let i = 0; i < keys; i++) created.push(await adminRequest(p, 'POST', `/tenants/${id}/keys`, { name: `bench-${i}`, role: 'member' }));
  // The tenant's own rate is what this bench is about; its keys get room so that rate is what binds.
  await raiseLimitsForLoad(
    p,
    id,
    created.map((k) => k.id),
    rpm,
  );
  return created.map((k) => k.key);
}

function post(p: RunningPlatform, key: string, message: unknown, session?: string): Promise<Response> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${key}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-06-18',
  };
  if (session) headers['mcp-session-id'] = session;
  return fetch(`${p.url}/servers/notes/mcp`, { method: 'POST', headers, body: JSON.stringify(message) });
}

async function openSession(p: RunningPlatform, key: string): Promise<string> {
  const res = await post(p, key, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
  });
  await res.text();
  const session = res.headers.get('mcp-session-id');
  if (res.status !== 200 || !session) throw new Error(`initialize: ${res.status}`);
  (await post(p, key, { jsonrpc: '2.0', method: 'notifications/initialized' }, session)).body?.cancel();
  return session;
}

/** One client loop: call list_notes until `until`, pausing `pauseMs` between calls. */
async function loop(p: RunningPlatform, key: string, session: string, until: number, pauseMs: number, t: Tally): Promise<void> {
  let id = 1;
  while (Date.now() < until) {
    const started = performance.now();
    let status: number;
    try {
      const res = await post(p, key, { jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name: 'list_notes', arguments: {} } }, session);
      await res.text();
      status = res.status;
    } catch {
      status = 599; // connection failure counts as a server error
    }
    t.statuses.set(status, (t.statuses.get(status) ?? 0) + 1);
    if (status === 200) t.latencies.push(performance.now() - started);
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function summary(t: Tally, seconds: number) {
  const sorted = [...t.latencies].sort((a, b) => a - b);
  const total = [...t.statuses.values()].reduce((a, b) => a + b, 0);
  const errors5xx = [...t.statuses].filter(([s]) => s >= 500).reduce((a, [, c]) => a + c, 0);
  return {
    total,
    ok: t.latencies.length,
    perSecond: total / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    limited: t.statuses.get(429) ?? 0,
    errors5xx,
  };
}

/** A latency; "–" when the phase had no successful request (a tenant refused throughout has none). */
const ms = (v: number) => (Number.isNaN(v) ? '–' : `${v.toFixed(1)} ms`);

async function main(): Promise<void> {
  const stateDir = mkdtempSync(join(tmpdir(), 'smcp-bench-noisy-'));
  const platform = await startPlatform({ stateDir, adminToken: 'bench-operator-token-0123456789', secret: 'bench-secret-'.padEnd(48, 'b') });
  try {
    const quietKeys = await seed(platform, 'quiet', 1_000_000, QUIET_SESSIONS);
    const noisyKeys = await seed(platform, 'noisy', NOISY_RPM, NOISY_KEYS);
    const quietSessions = await Promise.all(quietKeys.map((k) => openSession(platform, k)));
    const noisySessions = await Promise.all(noisyKeys.map((k) => openSession(platform, k)));
    console.log(
      `platform ${platform.url}; ${PHASE_SECONDS} s per phase in ${ROUNDS} alternating rounds; well-behaved: ${QUIET_SESSIONS} sessions pausing ${QUIET_PAUSE_MS} ms; noisy: ${NOISY_WORKERS} closed-loop workers on ${NOISY_KEYS} keys, limit ${NOISY_RPM}/min`,
    );

    // Warm-up, so both phases run on a warm isolate and warm Durable Objects.
    await Promise.all(quietKeys.map((k, i) => loop(platform, k, quietSessions[i]!, Date.now() + 2000, QUIET_PAUSE_MS, tally())));

    // The noisy tenant starts hammering on its own: its minute's budget is served (that is its quota,
    // not a refusal) and it is refused from then on. The measured phases are the well-behaved tenant
    // alone and beside a tenant over its limit, which is what refusals must make cheap.
    const warmup = tally();
    await Promise.all(
      Array.from({ length: NOISY_WORKERS }, (_, w) =>
        loop(platform, noisyKeys[w % NOISY_KEYS]!, noisySessions[w % NOISY_KEYS]!, Date.now() + NOISY_WARMUP_SECONDS * 1000, 0, warmup),
      ),
    );

    // Alone and together alternate in ROUNDS rounds, so a passing load on the machine falls on both.
    const alone = tally();
    const together = tally();
    const noisy = tally();
    const slice = (PHASE_SECONDS * 1000) / ROUNDS;
    const rounds = async () => {
      for (let r = 0; r < ROUNDS; r++) {
        let until = Date.now() + slice;
        await Promise.all(quietKeys.map((k, i) => loop(platform, k, quietSessions[i]!, until, QUIET_PAUSE_MS, alone)));
        until = Date.now() + slice;
        await Promise.all([
          ...quietKeys.map((k, i) => loop(platform, k, quietSessions[i]!, until, QUIET_PAUSE_MS, together)),
          ...Array.from({ length: NOISY_WORKERS }, (_, w) => loop(platform, noisyKeys[w % NOISY_KEYS]!, noisySessions[w % NOISY_KEYS]!, until, 0, noisy)),
        ]);
      }
    };
    // BENCH_PROFILE=1: where the platform's CPU goes meanwhile (scripts/bench/cpu-profile.ts).
    if (process.env.BENCH_PROFILE === '1') await profileDuring(platform.inspectorPort, 'noisy', rounds);
    else await rounds();

    const a = summary(alone, PHASE_SECONDS);
    const b = summary(together, PHASE_SECONDS);
    const n = summary(noisy, PHASE_SECONDS);
    const w = summary(warmup, NOISY_WARMUP_SECONDS);
    const total5xx = a.errors5xx + b.errors5xx + n.errors5xx + w.errors5xx;
    console.log('');
    console.log('phase                         requests  req/s   p50        p99        429s  5xx');
    const row = (label: string, s: ReturnType<typeof summary>) =>
      console.log(
        `${label.padEnd(30)}${String(s.total).padEnd(10)}${s.perSecond.toFixed(1).padEnd(8)}${ms(s.p50).padEnd(11)}${ms(s.p99).padEnd(11)}${String(s.limited).padEnd(6)}${s.errors5xx}`,
      );
    row('well-behaved, alone', a);
    row('well-behaved, with noisy', b);
    row('noisy alone, starting (warm-up)', w);
    row('noisy (over its limit)', n);
    console.log('');
    console.log(`well-behaved latency with / without the noisy tenant: p50 ×${(b.p50 / a.p50).toFixed(2)}, p99 ×${(b.p99 / a.p99).toFixed(2)}`);
    console.log(`well-behaved throughput with / without: ×${(b.perSecond / a.perSecond).toFixed(2)}; well-behaved requests refused: ${b.limited}`);
    console.log(
      `platform throughput during the noisy phase: ${(b.perSecond + n.perSecond).toFixed(1)} req/s (${n.limited} of ${n.total} noisy requests refused with 429)`,
    );
    console.log(`5xx responses: ${total5xx}`);
    if (total5xx > 0 || b.limited > 0) process.exitCode = 1;
  } finally {
    await platform.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

await main();
