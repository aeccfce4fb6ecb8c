import { expect, it } from 'vitest';
import { runConformance, SPEC_VERSIONS } from '../../scripts/lib/conformance-run.ts';

// The official MCP conformance suite (server mode, --suite all) against `everything` through the
// platform, for each spec version, against the committed baselines in conformance/.
it('passes the official MCP conformance suite within the committed baselines', async () => {
  const results = await runConformance(undefined, '2025');
  expect(results.map((r) => r.spec)).toEqual([...SPEC_VERSIONS]);
  for (const r of results) {
    const summary = /Total: (\d+) passed, (\d+) failed/.exec(r.output);
    console.log(`conformance ${r.spec}: ${summary?.[0] ?? 'no summary'} (exit ${r.exitCode})`);
    expect(summary, r.output).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThan(20);
    expect(r.exitCode, r.output).toBe(0);
  }
}, 300_000);
