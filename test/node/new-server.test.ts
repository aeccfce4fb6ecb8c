import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wranglerConfig } from '../support/wrangler-config';
import { ROOT } from '../../scripts/lib/local-platform.ts';

/**
 * `npm run new-server` end to end, in a temporary copy of the repository (node_modules linked):
 * scaffold, type-check, run the new server's own test inside workerd and the registry agreement
 * check; then prove that a second run and bad names fail clearly and change nothing.
 */

let copy: string;
const SKIP = new Set(['node_modules', '.wrangler', '.git', '.dev.vars', 'results', 'coverage', '.tmp']);

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0' };
  for (const key of Object.keys(env)) if (key.startsWith('VITEST') || key === 'NODE_OPTIONS') delete env[key];
  env.PATH = `${join(copy, 'node_modules', '.bin')}:${env.PATH}`;
  return env;
}

function run(command: string, args: string[], timeout = 300_000) {
  const result = spawnSync(command, args, { cwd: copy, env: cleanEnv(), encoding: 'utf8', timeout });
  return { status: result.status, out: `${result.stdout ?? ''}${result.stderr ?? ''}` };
}

const scaffold = (...args: string[]) => run(join(copy, 'node_modules', '.bin', 'node'), ['scripts/new-server.ts', ...args], 120_000);

/** Hash of every file in the copy (except node_modules), to prove a failed run changed nothing. */
function treeHash(dir = copy): string {
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const entry of readdirSync(d).sort()) {
      if (d === copy && entry === 'node_modules') continue;
      const path = join(d, entry);
      if (statSync(path).isDirectory()) walk(path);
      else
        hash
          .update(`${relative(copy, path)}\0`)
          .update(readFileSync(path))
          .update('\0');
    }
  };
  walk(dir);
  return hash.digest('hex');
}

beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), 'smcp-new-server-'));
  cpSync(ROOT, copy, { recursive: true, filter: (src) => !SKIP.has(relative(ROOT, src).split('/')[0]!) || relative(ROOT, src) === '' });
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
});

afterAll(() => {
  if (copy) rmSync(copy, { recursive: true, force: true });
});

describe('npm run new-server', () => {
  it('refuses bad names with a clear message and changes nothing', () => {
    const before = treeHash();
    for (const bad of ['Weather', 'weather_report', '1weather', 'weather--report', 'weather-', '-weather', 'w'.repeat(33), '../evil', 'a b']) {
      const res = scaffold(bad);
      expect(res.status, bad).toBe(1);
      expect(res.out, bad).toContain(`new-server: invalid server name "${bad}"`);
      expect(res.out).toContain('Nothing was changed.');
    }
    const none = scaffold();
    expect(none.status).toBe(1);
    expect(none.out).toContain('usage: npm run new-server <name>');
    const existing = scaffold('storage');
    expect(existing.status).toBe(1);
    expect(existing.out).toContain('server "storage" already exists in servers/registry.ts');
    expect(treeHash()).toBe(before);
  });

  it('scaffolds a server that type-checks, passes its own test and the registry agreement check', () => {
    const res = scaffold('weather-report');
    expect(res.status, res.out).toBe(0);
    expect(res.out).toContain('Created server "weather-report" (WeatherReportServer, binding WEATHER_REPORT_SERVER, migration v');
    expect(existsSync(join(copy, 'servers/weather-report/weather-report.server.ts'))).toBe(true);
    expect(readFileSync(join(copy, 'servers/registry.ts'), 'utf8')).toContain(
      "{ name: 'weather-report', binding: 'WEATHER_REPORT_SERVER', className: 'WeatherReportServer', title: 'Weather Report' }",
    );
    const wrangler = readFileSync(join(copy, 'wrangler.jsonc'), 'utf8');
    // At the top level and in every deployed environment (wrangler does not inherit Durable Object bindings).
    expect(wrangler.split('{ "name": "WEATHER_REPORT_SERVER", "class_name": "WeatherReportServer" }').length - 1).toBe(
      1 + Object.keys(wranglerConfig().env ?? {}).length,
    );
    expect(wrangler).toMatch(/\{ "tag": "v\d+", "new_sqlite_classes": \["WeatherReportServer"\] \}\n  \]/);
    // Comments in wrangler.jsonc survive the edit.
    expect(wrangler).toContain(readFileSync(join(ROOT, 'wrangler.jsonc'), 'utf8').split('\n')[0]);
    expect(readFileSync(join(copy, 'worker-configuration.d.ts'), 'utf8')).toContain(
      'WEATHER_REPORT_SERVER: DurableObjectNamespace<import("./src/index").WeatherReportServer>',
    );

    const tsc = run(join(copy, 'node_modules', '.bin', 'tsc'), ['--noEmit', '-p', '.']);
    expect(tsc.status, tsc.out).toBe(0);
    const vitest = join(copy, 'node_modules', '.bin', 'vitest');
    const own = run(vitest, ['run', '--project', 'worker', 'servers/weather-report']);
    expect(own.status, own.out.slice(-3000)).toBe(0);
    expect(own.out).toMatch(/Tests\s+3 passed/);
    const agreement = run(vitest, ['run', '--project', 'node', 'test/node/registry-agreement.test.ts']);
    expect(agreement.status, agreement.out.slice(-3000)).toBe(0);
  }, 300_000); // tsc and a vitest run inside a repo copy: minutes on a busy machine

  it('refuses to scaffold the same server twice and changes nothing', () => {
    const before = treeHash();
    const again = scaffold('weather-report');
    expect(again.status).toBe(1);
    expect(again.out).toContain('new-server: server "weather-report" already exists in servers/registry.ts');
    const dirOnly = join(copy, 'servers', 'half-done');
    cpSync(join(copy, 'servers', 'weather-report'), dirOnly, { recursive: true });
    const mid = treeHash();
    const res = scaffold('half-done');
    expect(res.status).toBe(1);
    expect(res.out).toContain('servers/half-done/ already exists');
    expect(treeHash()).toBe(mid);
    rmSync(dirOnly, { recursive: true });
    expect(treeHash()).toBe(before);
  });
});
