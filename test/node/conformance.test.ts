import { expect, it } from 'vitest';
import { MODERN_REVISION, runConformance, SPEC_VERSIONS } from '../../scripts/lib/conformance-run.ts';

// The official MCP conformance suite against `everything` through the whole platform (a real OAuth
// sign-in, the gate), each run against its committed baseline in conformance/: suite 0.1.16 in
// server mode with --suite all for each 2025 revision, then suite 0.2.0-alpha.12 with
// --requirements 2026-07-28 (stateless, same URL) on a tenant with default settings.
it('passes the official MCP conformance suite within the committed baselines, 2025 revisions and 2026-07-28', async () => {
  const results = await runConformance();
  expect(results.map((r) => r.spec)).toEqual([...SPEC_VERSIONS, MODERN_REVISION]);
  for (const r of results) {
    const output = r.output.replace(/\x1b\[[0-9;]*m/g, '');
    const summary = /Total: (\d+) passed, (\d+) failed/.exec(output);
    console.log(`conformance ${r.spec}: ${summary?.[0] ?? 'no summary'} (exit ${r.exitCode})`);
    expect(summary, output).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThan(20);
    expect(r.exitCode, output).toBe(0);
    if (r.spec === MODERN_REVISION) {
      // Every scenario the revision requires ran and passed (the baseline is empty); the report
      // lists them as "✓ <scenario>" lines, the not-scored extras may fail without failing the run.
      expect(output).toContain('Baseline check passed');
      const passed = output.match(/^✓ [a-z0-9-]+:/gm) ?? [];
      expect(passed.length, output).toBeGreaterThanOrEqual(37);
    }
  }
}, 420_000);
