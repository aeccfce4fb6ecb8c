/**
 * The offline half of docs/deploy.md, run for real: `wrangler deploy --dry-run` for a deployed
 * environment (the bundle builds, bindings and Durable Object classes validate against the
 * config) and the D1 migrations applied to a fresh local database with that environment's
 * binding. Shared by `npm run deploy:check` and test/node/deploy-dry-run.test.ts, so the command an
 * operator runs and the one CI runs are the same.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ROOT } from './local-platform.ts';

const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');

/** Workers script size limits after compression (gzip): https://developers.cloudflare.com/workers/platform/limits/ */
export const WORKER_SIZE_LIMITS = { free: 3 * 1024 * 1024, paid: 10 * 1024 * 1024 } as const;

export interface CommandRun {
  command: string;
  code: number;
  output: string;
}

/** The build label a deploy sets: the short commit, or `unknown` outside a git checkout. */
export function currentBuild(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

/** Run wrangler with metrics off and no colours, collecting everything it prints. */
export function wrangler(args: string[]): Promise<CommandRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(WRANGLER, args, {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', CI: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ command: `wrangler ${args.join(' ')}`, code: code ?? 1, output }));
  });
}

/** The bundle a dry run wrote: module sizes raw and gzipped, and the classes the entry exports. */
export interface Bundle {
  bytes: number;
  gzipBytes: number;
  exports: string[];
}

/** Measure the modules a dry run wrote to `outdir` (source maps and wrangler's README are not uploaded). */
export function measureBundle(outdir: string): Bundle {
  let bytes = 0;
  let gzipBytes = 0;
  for (const file of readdirSync(outdir)) {
    if (file.endsWith('.map') || file === 'README.md' || !statSync(join(outdir, file)).isFile()) continue;
    const content = readFileSync(join(outdir, file));
    bytes += content.length;
    gzipBytes += gzipSync(content, { level: 9 }).length;
  }
  const entry = readFileSync(join(outdir, 'index.js'), 'utf8');
  const exports = [...entry.matchAll(/^export\s*\{([^}]*)\};?\s*$/gm)].flatMap((m) =>
    m[1]!
      .split(',')
      .map((s) =>
        s
          .trim()
          .split(/\s+as\s+/)
          .at(-1)!,
      )
      .filter(Boolean),
  );
  return { bytes, gzipBytes, exports };
}

/** `wrangler deploy --dry-run` for one environment, with the build label a real deploy would set. */
export function dryRun(env: string, outdir: string, build: string): Promise<CommandRun> {
  return wrangler(['deploy', '--dry-run', '--outdir', outdir, '--env', env, '--var', `SMCP_BUILD:${build}`]);
}

/** Apply every D1 migration to a fresh local database through the environment's `DB` binding. */
export function applyMigrationsLocally(env: string, persistTo: string): Promise<CommandRun> {
  return wrangler(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persistTo, '--env', env]);
}

/** The tables of the local database `applyMigrationsLocally` wrote under `persistTo` (read with node:sqlite, no second wrangler run). */
export async function localTables(persistTo: string): Promise<string[]> {
  const { DatabaseSync } = await import('node:sqlite');
  const dir = join(persistTo, 'v3', 'd1', 'miniflare-D1DatabaseObject');
  const files = readdirSync(dir).filter((f) => f.endsWith('.sqlite') && f !== 'metadata.sqlite');
  if (files.length !== 1) throw new Error(`expected one local D1 database in ${dir}, found ${files.join(', ') || 'none'}`);
  const db = new DatabaseSync(join(dir, files[0]!), { readOnly: true });
  try {
    return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
  } finally {
    db.close();
  }
}

/** `1.23 MiB` */
export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

/** One line comparing a gzipped size with the Workers limits. */
export function sizeReport(env: string, bundle: Bundle): string {
  const { free, paid } = WORKER_SIZE_LIMITS;
  const pct = (limit: number) => `${Math.round((bundle.gzipBytes / limit) * 100)}%`;
  return `${env}: bundle ${mib(bundle.bytes)}, gzip ${mib(bundle.gzipBytes)} = ${pct(free)} of the free plan's ${mib(free)}, ${pct(paid)} of the paid plan's ${mib(paid)}`;
}
