/**
 * `npm run bench:profile`: where a variant's CPU goes under load. Starts one bench variant
 * (BENCH_PROFILE_VARIANT: platform by default, or bare, modern, floor), drives it with the
 * bench's steady workload (BENCH_CONCURRENCY, default 10, or a list such as 1,10,100, one profile each; BENCH_DURATION_MS, default 8000) while
 * V8's sampling profiler runs in its workerd (scripts/bench/cpu-profile.ts), then prints the
 * functions with the most self time, the share of CPU spent auditing (in and off the request path),
 * and writes the whole `.cpuprofile` (open it in Chrome DevTools).
 * A development tool: the figures are samples of one process, not a benchmark.
 */
import { profileDuring } from './bench/cpu-profile.ts';
import { closeAgents } from './bench/mcp-http.ts';
import { VARIANTS, type Variant } from './bench/report.ts';
import { startTargets } from './bench/targets.ts';
import { DEFAULT_WARMUP_MS, steady } from './bench/workloads.ts';

const variant = (process.env.BENCH_PROFILE_VARIANT ?? 'platform') as Variant;
if (!(VARIANTS as readonly string[]).includes(variant) || variant === 'peer')
  throw new Error(`BENCH_PROFILE_VARIANT must be one of ${VARIANTS.filter((v) => v !== 'peer').join(', ')}`);
const concurrencies = (process.env.BENCH_CONCURRENCY ?? '10')
  .split(',')
  .map(Number)
  .filter((n) => n > 0);
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 8000);

const started = await startTargets([variant]);
try {
  for (const concurrency of concurrencies) {
    console.log(`\n=== ${variant} c=${concurrency} ===`);
    const [result] = await profileDuring(
      started.inspectorPorts.get(variant)!,
      `${variant}-c${concurrency}`,
      () => steady([started.targets.get(variant)!], concurrency, durationMs, 1, DEFAULT_WARMUP_MS),
      ([r]) => r!.ops,
    );
    console.log(`${variant} c=${concurrency}: ${result!.throughput.toFixed(0)} ops/s, p50 ${result!.p50?.toFixed(2)} ms, errors ${result!.errors}`);
  }
} finally {
  closeAgents();
  await started.stop();
}
