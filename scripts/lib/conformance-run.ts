/**
 * Runs the official MCP conformance suite (server mode) against the `everything` server through
 * the real platform: `wrangler dev`, a real OAuth sign-in for the token, and a loopback proxy that
 * presents it. One run per spec revision, each against its committed baseline of expected failures:
 * the 2025 revisions with suite 0.1.16 (stateful, `initialize`), 2026-07-28 with suite
 * 0.2.0-alpha.12 (`--requirements 2026-07-28`, stateless, per-request `_meta`) on the same URL.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { obtainToken } from '../../test/support/oauth-flow.ts';
import { ROOT, seedTenant, startPlatform, type RunningPlatform } from './local-platform.ts';
import { startTokenProxy } from './token-proxy.ts';

/**
 * Both suite versions declare the same `conformance` bin, so `node_modules/.bin/conformance` is
 * whichever npm linked last: each run names its package's entry point instead.
 */
const SUITE_2025 = join(ROOT, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const SUITE_2026 = join(ROOT, 'node_modules', 'conformance-2026', 'dist', 'index.js');

export const SPEC_VERSIONS = ['2025-06-18', '2025-11-25'] as const;
/** The stateless revision, run with `--requirements` (exactly the scenarios it requires). */
export const MODERN_REVISION = '2026-07-28';

export interface SuiteResult {
  spec: string;
  exitCode: number;
  output: string;
}

function runSuite(entry: string, args: string[], spec: string): Promise<SuiteResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ spec, exitCode: code ?? 1, output }));
  });
}

const baseline = (spec: string) => join(ROOT, 'conformance', `baseline-${spec}.yml`);

/** Seed a tenant with `everything` enabled and one member, and sign that member in for a token. */
async function signedInProxy(platform: RunningPlatform, tenant: string, account: { email: string; password: string }) {
  await seedTenant(platform, { id: tenant, name: tenant, servers: ['everything'] }, { ...account, role: 'member' });
  const { access_token } = await obtainToken(fetch, platform.url, account, 'everything');
  return startTokenProxy(platform.url, access_token);
}

/** Which runs to do: the 2025 revisions, the 2026-07-28 revision, or both (the default). */
export type ConformanceSelection = 'all' | '2025' | typeof MODERN_REVISION;

/** Start everything, run the suite for each selected revision, stop everything. */
export async function runConformance(log: (line: string) => void = () => {}, selection: ConformanceSelection = 'all'): Promise<SuiteResult[]> {
  const stateDir = mkdtempSync(join(tmpdir(), 'smcp-conformance-'));
  const platform = await startPlatform({ stateDir, adminToken: `op-${crypto.randomUUID()}`, secret: crypto.randomUUID() + crypto.randomUUID() });
  const results: SuiteResult[] = [];
  try {
    if (selection !== MODERN_REVISION) {
      const proxy = await signedInProxy(platform, 'conformance', { email: 'conformance@example.test', password: 'Conformance-Run-2026' });
      try {
        // Default tenant limits: the 2025 suite opens a fresh session per scenario (about 50 over both
        // spec versions) and never ends them; at the per-user quota the oldest one makes room.
        for (const spec of SPEC_VERSIONS) {
          log(`conformance: spec ${spec} against ${platform.url}/servers/everything/mcp`);
          const args = [
            'server',
            '--url',
            `${proxy.url}/servers/everything/mcp`,
            '--spec-version',
            spec,
            '--suite',
            'all',
            '--expected-failures',
            baseline(spec),
            '-o',
            join(stateDir, `results-${spec}`),
          ];
          results.push(await runSuite(SUITE_2025, args, spec));
        }
      } finally {
        await proxy.close();
      }
    }
    if (selection !== '2025') {
      // Its own tenant with the default settings: a stateless client opens no sessions, so no
      // quota needs raising.
      const proxy = await signedInProxy(platform, 'conformance-modern', { email: 'modern@example.test', password: 'Conformance-Modern-2026' });
      try {
        log(`conformance: requirements ${MODERN_REVISION} against ${platform.url}/servers/everything/mcp`);
        const args = [
          'server',
          '--url',
          `${proxy.url}/servers/everything/mcp`,
          '--requirements',
          MODERN_REVISION,
          '--expected-failures',
          baseline(MODERN_REVISION),
          '-o',
          join(stateDir, `results-${MODERN_REVISION}`),
        ];
        results.push(await runSuite(SUITE_2026, args, MODERN_REVISION));
      } finally {
        await proxy.close();
      }
    }
    return results;
  } finally {
    await platform.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
