import { workerdBench } from '../workerd-bench-config';

/**
 * `npm run bench:audit`: the audit store benchmark runs inside workerd against the real Worker and
 * its Durable Objects (same wrangler.jsonc as the tests), so it can seed a store directly in
 * batches instead of through a million MCP calls. Not part of `npm test`.
 */
export default workerdBench({
  name: 'bench-audit',
  include: 'bench/audit/*.bench-test.ts',
  vars: { BENCH_EVENTS: process.env.BENCH_EVENTS ?? '1000000', BENCH_SECONDS: process.env.BENCH_SECONDS ?? '8' },
  testTimeout: 1_800_000,
  hookTimeout: 600_000,
});
