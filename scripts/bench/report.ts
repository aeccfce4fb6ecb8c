/**
 * Turning benchmark results into tables: the per-phase figures, the ratios the issues ask for
 * (platform/bare, platform/floor, platform/peer; audited/unaudited; modern/platform, modern/floor), the targets, and
 * the machine. The same markdown
 * is printed and written between the markers in docs/performance.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../lib/local-platform.ts';
import { ratio, type PhaseResult } from './stats.ts';

/**
 * Every variant, in report order; all run by default (BENCH_VARIANTS picks a subset). `unaudited`
 * is the platform variant with its session's audit events dropped (bench/bench-servers.ts): it
 * runs in the steady phases only, for the audited/unaudited ratios.
 */
export const VARIANTS = ['floor', 'bare', 'platform', 'unaudited', 'modern', 'peer'] as const;
export const DEFAULT_VARIANTS: readonly Variant[] = VARIANTS;
export type Variant = (typeof VARIANTS)[number];

const ms = (v: number | null) => (v === null ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(1));
const x = (v: number | null) => (v === null ? '–' : `${v.toFixed(2)}×`);
const mib = (v: number | null | undefined) => (v == null ? '–' : `${(v / 1024 / 1024).toFixed(0)} MiB`);

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

/** The machine the figures come from. */
export function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return [
    `- date: ${new Date().toISOString()}`,
    `- CPU: ${cpu}, ${availableParallelism()} logical cores (nproc)`,
    `- RAM: ${(totalmem() / 1024 ** 3).toFixed(1)} GiB`,
    `- OS: ${process.platform} ${release()}, Node ${process.version}`,
    `- wrangler ${version('wrangler')}, workerd ${version('workerd')}, agents ${version('agents')}, @modelcontextprotocol/sdk ${version('@modelcontextprotocol/sdk')}`,
  ].join('\n');
}

export interface Report {
  results: PhaseResult[];
  peaks: Map<string, number | null>;
  settings: string;
}

function phases(results: PhaseResult[]): string[] {
  return [...new Set(results.map((r) => r.phase))];
}

function find(results: PhaseResult[], phase: string, variant: string): PhaseResult | undefined {
  return results.find((r) => r.phase === phase && r.variant === variant);
}

function figures(r: Report): string {
  const rows = [
    '| phase | variant | throughput (ops/s) | p50 (ms) | p99 (ms) | CPU per op (ms) | ops | errors | steady throughput per round (ops/s) |',
    '|---|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const phase of phases(r.results)) {
    for (const v of VARIANTS) {
      const f = find(r.results, phase, v);
      const perRound = phase.startsWith('steady') && f?.perRound ? f.perRound.map((n) => n.toFixed(0)).join(' ') : '';
      if (f)
        rows.push(
          `| ${phase} | ${v} | ${f.throughput.toFixed(0)} | ${ms(f.p50)} | ${ms(f.p99)} | ${ms(f.cpuMsPerOp ?? null)} | ${f.ops} | ${f.errors} | ${perRound} |`,
        );
    }
  }
  return rows.join('\n');
}

function ratios(r: Report): string {
  const rows = [
    '| phase | p50 platform/bare | p50 platform/floor | p50 platform/peer | throughput platform/bare | throughput platform/floor | throughput platform/peer |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const phase of phases(r.results)) {
    const p = find(r.results, phase, 'platform');
    if (!p || !['bare', 'floor', 'peer'].some((v) => find(r.results, phase, v))) continue;
    const cell = (v: Variant, key: 'p50' | 'throughput') => x(ratio(p[key], find(r.results, phase, v)?.[key]));
    rows.push(
      `| ${phase} | ${cell('bare', 'p50')} | ${cell('floor', 'p50')} | ${cell('peer', 'p50')} | ${cell('bare', 'throughput')} | ${cell('floor', 'throughput')} | ${cell('peer', 'throughput')} |`,
    );
  }
  return rows.join('\n');
}

/** The stateless (2026-07-28) lane against the sessionful platform and the floor, per phase. */
function modernRatios(r: Report): string {
  const rows = ['| phase | throughput modern/platform | throughput modern/floor | p50 modern/platform | p50 modern/floor |', '|---|---:|---:|---:|---:|'];
  for (const phase of phases(r.results)) {
    const m = find(r.results, phase, 'modern');
    if (!m) continue;
    const cell = (v: Variant, key: 'p50' | 'throughput') => x(ratio(m[key], find(r.results, phase, v)?.[key]));
    rows.push(`| ${phase} | ${cell('platform', 'throughput')} | ${cell('floor', 'throughput')} | ${cell('platform', 'p50')} | ${cell('floor', 'p50')} |`);
  }
  return rows.length > 2 ? rows.join('\n') : '';
}

/**
 * What auditing costs the sessionful lane, per steady phase: the platform against the same server
 * with its events dropped, both as ratios that are ≥ 1 when auditing costs something.
 */
function auditRatios(r: Report): string {
  const rows = [
    '| phase | throughput unaudited/audited | p50 audited/unaudited | p99 audited/unaudited | CPU per call audited/unaudited |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const phase of phases(r.results)) {
    const u = find(r.results, phase, 'unaudited');
    const p = find(r.results, phase, 'platform');
    if (!u || !p) continue;
    rows.push(
      `| ${phase} | ${x(ratio(u.throughput, p.throughput))} | ${x(ratio(p.p50, u.p50))} | ${x(ratio(p.p99, u.p99))} | ${x(ratio(p.cpuMsPerOp, u.cpuMsPerOp))} |`,
    );
  }
  return rows.length > 2 ? rows.join('\n') : '';
}

function memory(r: Report): string {
  const rows = ['| variant | peak RSS of the server processes |', '|---|---:|'];
  for (const v of VARIANTS) if (r.peaks.has(v)) rows.push(`| ${v} | ${mib(r.peaks.get(v))} |`);
  return rows.join('\n');
}

/** Each target checked against every phase where it applies; `met` is false if any phase misses. */
export function targets(r: Report): { lines: string[]; met: boolean } {
  const lines: string[] = [];
  let met = true;
  const check = (ok: boolean, text: string) => {
    met &&= ok;
    lines.push(`- ${ok ? 'met' : 'NOT met'}: ${text}`);
  };
  for (const phase of phases(r.results)) {
    const q = ratio(find(r.results, phase, 'platform')?.p50, find(r.results, phase, 'bare')?.p50);
    if (q !== null) check(q <= 1.1, `platform/bare p50 ≤ 1.10 in "${phase}": ${x(q)}`);
  }
  const errors = r.results.reduce((n, f) => n + f.errors, 0);
  check(
    errors === 0,
    `zero errors: ${errors} in total${
      errors
        ? ` (${r.results
            .filter((f) => f.errors)
            .map((f) => `${f.variant} ${f.phase}: ${f.errors}`)
            .join('; ')})`
        : ''
    }`,
  );
  for (const phase of phases(r.results).filter((p) => p.startsWith('steady'))) {
    const p = find(r.results, phase, 'platform');
    const peer = find(r.results, phase, 'peer');
    if (p && peer)
      check(p.throughput >= peer.throughput, `platform throughput ≥ peer in "${phase}": ${p.throughput.toFixed(0)} vs ${peer.throughput.toFixed(0)} ops/s`);
  }
  // The modern lane (issue 14): ≥ 3× the sessionful platform's and ≥ 0.5× the floor's throughput at
  // c=10 and c=100; p50 at c=1 within 2× the floor's.
  for (const c of [10, 100]) {
    const phase = `steady c=${c}`;
    const m = find(r.results, phase, 'modern')?.throughput;
    const vsPlatform = ratio(m, find(r.results, phase, 'platform')?.throughput);
    if (vsPlatform !== null) check(vsPlatform >= 3, `modern/platform throughput ≥ 3 in "${phase}": ${x(vsPlatform)}`);
    const vsFloor = ratio(m, find(r.results, phase, 'floor')?.throughput);
    if (vsFloor !== null) check(vsFloor >= 0.5, `modern/floor throughput ≥ 0.5 in "${phase}": ${x(vsFloor)}`);
  }
  const p50 = ratio(find(r.results, 'steady c=1', 'modern')?.p50, find(r.results, 'steady c=1', 'floor')?.p50);
  if (p50 !== null) check(p50 <= 2, `modern/floor p50 ≤ 2 in "steady c=1": ${x(p50)}`);
  // The sessionful lane (issue 16): ≥ 2× bare McpAgent's throughput at c=10 and c=100, p50 ≤ 0.6× bare's at c=1 and c=10.
  for (const c of [10, 100]) {
    const q = ratio(find(r.results, `steady c=${c}`, 'platform')?.throughput, find(r.results, `steady c=${c}`, 'bare')?.throughput);
    if (q !== null) check(q >= 2, `platform/bare throughput ≥ 2 in "steady c=${c}": ${x(q)}`);
  }
  for (const c of [1, 10]) {
    const q = ratio(find(r.results, `steady c=${c}`, 'platform')?.p50, find(r.results, `steady c=${c}`, 'bare')?.p50);
    if (q !== null) check(q <= 0.6, `platform/bare p50 ≤ 0.6 in "steady c=${c}": ${x(q)}`);
  }
  // Audit off the hot path (issue 16): audited/unaudited p50 and throughput within 1.05× at every concurrency.
  for (const phase of phases(r.results).filter((p) => p.startsWith('steady'))) {
    const p = find(r.results, phase, 'platform');
    const u = find(r.results, phase, 'unaudited');
    if (!p || !u) continue;
    const cost = ratio(u.throughput, p.throughput);
    if (cost !== null) check(cost <= 1.05, `unaudited/audited throughput ≤ 1.05 in "${phase}": ${x(cost)}`);
    const p50 = ratio(p.p50, u.p50);
    if (p50 !== null) check(p50 <= 1.05, `audited/unaudited p50 ≤ 1.05 in "${phase}": ${x(p50)}`);
  }
  return { lines, met };
}

/** The whole report as markdown. */
export function markdown(r: Report): string {
  const t = targets(r);
  const errorNotes = r.results.filter((f) => f.errorSamples.length).map((f) => `- ${f.variant}, ${f.phase}: ${f.errorSamples.join(' | ')}`);
  return [
    '### Machine',
    machine(),
    '',
    `Settings: ${r.settings}`,
    '',
    '### Figures',
    figures(r),
    '',
    '### Ratios',
    ratios(r),
    '',
    ...(auditRatios(r) ? ['### Audit cost (platform against the same server unaudited)', auditRatios(r), ''] : []),
    ...(modernRatios(r) ? ['### Modern lane (MCP 2026-07-28, stateless)', modernRatios(r), ''] : []),
    '### Memory',
    memory(r),
    '',
    '### Targets',
    ...t.lines,
    ...(errorNotes.length ? ['', '### Error samples', ...errorNotes] : []),
  ].join('\n');
}

const BEGIN = '<!-- bench:begin (written by npm run bench) -->';
const END = '<!-- bench:end -->';

/** Replace the generated section of docs/performance.md, keeping the hand-written text around it. */
export function writeDocs(section: string): string {
  const file = join(ROOT, 'docs', 'performance.md');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : `# Performance\n\n${BEGIN}\n${END}\n`;
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start + BEGIN.length)}\n${section}\n${current.slice(end)}`
      : `${current.trimEnd()}\n\n${BEGIN}\n${section}\n${END}\n`;
  writeFileSync(file, next);
  return file;
}
