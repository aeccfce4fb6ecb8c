/** `npm run conformance`: the official MCP conformance suite through the platform, per spec version. */
import { runConformance } from './lib/conformance-run.ts';

const results = await runConformance((line) => console.log(line));
for (const r of results) {
  console.log(`\n===== spec ${r.spec}: exit ${r.exitCode} =====\n${r.output}`);
}
process.exit(results.every((r) => r.exitCode === 0) ? 0 : 1);
