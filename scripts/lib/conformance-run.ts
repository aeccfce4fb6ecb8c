/**
 * Runs the official MCP conformance suite (server mode) against the `everything` server through
 * the real platform: `wrangler dev`, a real OAuth sign-in for the token, and a loopback proxy that
 * presents it. One run per spec version, each against its committed baseline of expected failures.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { obtainToken } from '../../test/support/oauth-flow.ts';
import { ROOT, seedTenant, startPlatform } from './local-platform.ts';
import { startTokenProxy } from './token-proxy.ts';

export const SPEC_VERSIONS = ['2025-06-18', '2025-11-25'] as const;

export interface SuiteResult {
  spec: string;
  exitCode: number;
  output: string;
}

function runSuite(url: string, spec: string, resultsDir: string): Promise<SuiteResult> {
  const bin = join(ROOT, 'node_modules', '.bin', 'conformance');
  const args = ['server', '--url', url, '--spec-version', spec, '--suite', 'all', '--expected-failures', join(ROOT, 'conformance', `baseline-${spec}.yml`), '-o', resultsDir];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ spec, exitCode: code ?? 1, output }));
  });
}

/** Start everything, run the suite for each spec version, stop everything. */
export async function runConformance(log: (line: string) => void = () => {}): Promise<SuiteResult[]> {
  const stateDir = mkdtempSync(join(tmpdir(), 'smcp-conformance-'));
  const platform = await startPlatform({ stateDir, adminToken: `op-${crypto.randomUUID()}`, secret: crypto.randomUUID() + crypto.randomUUID() });
  try {
    const account = { email: 'conformance@example.test', password: 'Conformance-Run-2026' };
    await seedTenant(platform, { id: 'conformance', name: 'Conformance', servers: ['everything'] }, { ...account, role: 'member' });
    // Default tenant limits: the suite opens a fresh session per scenario (about 50 over both spec
    // versions) and never ends them; at the per-user quota the oldest one makes room (session-registry.ts).
    const { access_token } = await obtainToken(fetch, platform.url, account, 'everything');
    const proxy = await startTokenProxy(platform.url, access_token);
    try {
      const results: SuiteResult[] = [];
      for (const spec of SPEC_VERSIONS) {
        log(`conformance: spec ${spec} against ${platform.url}/servers/everything/mcp`);
        results.push(await runSuite(`${proxy.url}/servers/everything/mcp`, spec, join(stateDir, `results-${spec}`)));
      }
      return results;
    } finally {
      await proxy.close();
    }
  } finally {
    await platform.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
