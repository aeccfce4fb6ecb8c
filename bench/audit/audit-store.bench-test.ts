import { env, runInDurableObject, SELF } from 'cloudflare:test';
import { it } from 'vitest';
import type { AuditEvent, AuditResult } from '../../src/audit/audit-event';
import { deliverToStores } from '../../src/audit/audit-store';
import { directoryStore, shardStore } from '../../src/audit/store-names';

/**
 * The audit store at scale (numbers for docs/audit.md): tenant A is seeded with BENCH_EVENTS
 * events (default 1,000,000) over the last 24 hours, straight into its shards in batches; then its
 * 24-hour metrics and filtered audit pages are timed through the real admin API; then tenant B's
 * writes and queries are timed alone and again while A is written to at full speed, and the
 * ratios printed. All in one run, so the machine's speed cancels out of the ratios.
 */
const bindings = env as unknown as { BENCH_EVENTS: string; BENCH_SECONDS: string };
const N = Number(bindings.BENCH_EVENTS);
const PHASE_MS = Number(bindings.BENCH_SECONDS) * 1000;
const TOKEN = 'bench-operator-token-0123456789';
const DAY = 86_400_000;

function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const r = random(17);
const SERVERS = ['notes', 'storage', 'everything', 'crm'];
function event(tenant: string, time: number): AuditEvent {
  const x = r();
  const result: AuditResult = x < 0.93 ? 'ok' : x < 0.97 ? 'error' : x < 0.99 ? 'denied' : 'rate_limited';
  const y = r();
  return {
    id: crypto.randomUUID(),
    time,
    tenant,
    action: y < 0.8 ? 'tools/call' : y < 0.9 ? 'tools/list' : y < 0.95 ? 'initialize' : 'resources/read',
    result,
    user: `usr_${Math.floor(r() * 200)}`,
    client: null,
    session: `sess-${Math.floor(r() * 2000)}`,
    server: SERVERS[Math.floor(r() * SERVERS.length)]!,
    resource: 'add_note',
    latencyMs: result === 'ok' || result === 'error' ? Math.round(20 * Math.exp(r() * 2)) : null,
    correlationId: crypto.randomUUID(),
    ip: '203.0.113.7',
    details: result === 'rate_limited' ? { count: 3 } : { arguments: { title: 'bench' } },
  };
}

/** The parts of admin API answers the bench reads. */
interface Answer {
  events?: unknown[];
  nextCursor?: string | null;
  servers?: unknown[];
  series?: unknown[];
}

async function api(path: string): Promise<{ ms: number; body: Answer }> {
  const started = performance.now();
  const res = await SELF.fetch(`http://localhost:8787/admin/api${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const body = (await res.json()) as Answer;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return { ms: performance.now() - started, body };
}

async function createTenant(id: string): Promise<void> {
  const res = await SELF.fetch('http://localhost:8787/admin/api/tenants', {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id, name: id, servers: ['notes'] }),
  });
  if (res.status !== 201) throw new Error(`create ${id}: ${res.status}`);
  await env.DB.prepare('UPDATE tenants SET created_at = ? WHERE id = ?')
    .bind(Date.now() - 3 * DAY, id)
    .run();
}

const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(q * xs.length) - 1)] ?? NaN;
const f = (v: number) => v.toFixed(1);

async function timed(label: string, path: string, runs = 40): Promise<string> {
  await api(path); // warm
  const ms: number[] = [];
  let last: Answer = {};
  for (let i = 0; i < runs; i++) {
    const res = await api(path);
    ms.push(res.ms);
    last = res.body;
  }
  const size = Array.isArray(last.events) ? `${last.events.length} events` : `${last.servers?.length} servers, ${last.series?.length} points`;
  return `| ${label} | ${f(pct(ms, 0.5))} | ${f(pct(ms, 0.95))} | ${f(Math.max(...ms))} | ${size} |`;
}

/** Tenant B's loop: a write of 100 events, a filtered page and its 1-hour metrics, each timed, until `until`. */
async function tenantB(until: number): Promise<{ write: number[]; page: number[]; metrics: number[] }> {
  const out = { write: [] as number[], page: [] as number[], metrics: [] as number[] };
  while (Date.now() < until) {
    const now = Date.now();
    const batch = Array.from({ length: 100 }, (_, i) => event('bench-b', now - i));
    let t = performance.now();
    await deliverToStores(env, batch);
    out.write.push(performance.now() - t);
    t = performance.now();
    await api('/tenants/bench-b/audit?result=error&limit=100');
    out.page.push(performance.now() - t);
    t = performance.now();
    await api('/tenants/bench-b/metrics?window=60&bucket=5');
    out.metrics.push(performance.now() - t);
  }
  return out;
}

it(`audit store with ${N.toLocaleString('en')} events`, async () => {
  await createTenant('bench-a');
  await createTenant('bench-b');
  const lines: string[] = [];
  const now = Date.now();
  const start = now - DAY;

  // Seed A: N events over the last 24 hours, 5,000 per delivery (one call per day shard in it).
  const seedStarted = performance.now();
  const BATCH = 5000;
  for (let i = 0; i < N; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, N - i) }, (_, j) => event('bench-a', start + Math.floor(((i + j) / N) * DAY)));
    await deliverToStores(env, batch);
  }
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  let bytes = 0;
  for (const { day } of await directoryStore(env, 'bench-a').days()) {
    bytes += await runInDurableObject(shardStore(env, 'bench-a', day), (_o, state) => state.storage.sql.databaseSize);
  }
  lines.push(
    `Seeded ${N.toLocaleString('en')} events in ${seedSeconds.toFixed(1)} s (${Math.round(N / seedSeconds).toLocaleString('en')} events/s into 2 day shards, batches of ${BATCH}); ${Math.round(bytes / N)} bytes per event on disk with indexes and rollups.`,
  );

  // Every query once before timing any: the first reads after a 600 MB write pay for the page cache.
  const queries: Array<[string, string]> = [
    ['metrics, 24 h window, 1 h buckets', '/tenants/bench-a/metrics?window=1440&bucket=60'],
    ['metrics, 1 h window, 5 min buckets', '/tenants/bench-a/metrics?window=60&bucket=5'],
    ['metrics, 7 days, 6 h buckets', '/tenants/bench-a/metrics?window=10080&bucket=360'],
    ['audit page, newest 100', '/tenants/bench-a/audit?limit=100'],
    ['audit page, result=denied', '/tenants/bench-a/audit?result=denied&limit=100'],
    ['audit page, action + server + user', '/tenants/bench-a/audit?action=tools/call&server=crm&user=usr_7&limit=100'],
    ['audit page, 12 h ago, one minute', `/tenants/bench-a/audit?from=${now - DAY / 2}&to=${now - DAY / 2 + 60_000}&limit=100`],
  ];
  for (const [, path] of queries) await api(path);
  lines.push('', `| Query on tenant A (${N.toLocaleString('en')} events in 24 h), 40 runs | p50 ms | p95 ms | max ms | answer |`, '|---|---|---|---|---|');
  for (const [label, path] of queries) lines.push(await timed(label, path));
  const first = (await api('/tenants/bench-a/audit?result=error&limit=100')).body;
  lines.push(await timed('audit page, result=error, page 2 (cursor)', `/tenants/bench-a/audit?result=error&limit=100&cursor=${first.nextCursor}`));

  // Isolation: B alone; beside A written at a steady 1,000 events/s (a tenant at 60x the default
  // request limit); beside A written as fast as two outboxes can ship 500-event batches.
  const alone = await tenantB(Date.now() + PHASE_MS);
  const beside = async (eventsPerSecond: number | null) => {
    let written = 0;
    let running = true;
    const writer = async () => {
      while (running) {
        const t = Date.now();
        const size = eventsPerSecond === null ? 500 : eventsPerSecond / 10;
        await deliverToStores(
          env,
          Array.from({ length: size }, (_, i) => event('bench-a', t - i)),
        );
        written += size;
        if (eventsPerSecond !== null) await new Promise((resolve) => setTimeout(resolve, Math.max(0, 100 - (Date.now() - t))));
      }
    };
    const started = performance.now();
    const writers = eventsPerSecond === null ? [writer(), writer()] : [writer()];
    const b = await tenantB(Date.now() + PHASE_MS);
    running = false;
    await Promise.all(writers);
    return { b, rate: written / ((performance.now() - started) / 1000) };
  };
  const steady = await beside(1000);
  const flat = await beside(null);
  lines.push(
    '',
    'Tenant B alone, then beside tenant A being written (ratios: beside / alone):',
    '',
    `| Tenant B operation | p50 alone ms | p50 beside A at ${Math.round(steady.rate).toLocaleString('en')}/s | ratio | p50 beside A at full speed, ${Math.round(flat.rate).toLocaleString('en')}/s | ratio |`,
    '|---|---|---|---|---|---|',
  );
  for (const k of ['write', 'page', 'metrics'] as const) {
    const a50 = pct(alone[k], 0.5),
      s50 = pct(steady.b[k], 0.5),
      f50 = pct(flat.b[k], 0.5);
    lines.push(
      `| ${k === 'write' ? 'write 100 events' : k === 'page' ? 'filtered audit page' : 'metrics, 1 h'} | ${f(a50)} | ${f(s50)} | ${(s50 / a50).toFixed(2)} | ${f(f50)} | ${(f50 / a50).toFixed(2)} |`,
    );
  }
  // The first queries timed follow a write of ~600 MB: timing A's metrics again, a minute later, tells
  // the query's own cost from the storage settling after the seed.
  lines.push(
    '',
    'Tenant A again, after the isolation phases:',
    '',
    '| Query on tenant A, 40 runs | p50 ms | p95 ms | max ms | answer |',
    '|---|---|---|---|---|',
    await timed(queries[0]![0], queries[0]![1]),
    await timed(queries[2]![0], queries[2]![1]),
  );
  console.log(`\n${lines.join('\n')}\n`);
});
