import { workerdBench } from '../workerd-bench-config';

/**
 * `npm run bench:audit-cost`: what recording one request's audit event costs in the session lane,
 * piece by piece, measured inside workerd against the real Durable Objects (same wrangler.jsonc as
 * the tests). Replaces the benchmark's former audit-off server variant. Not part of `npm test`.
 */
export default workerdBench({
  name: 'bench-audit-cost',
  include: 'bench/audit-cost/*.bench-test.ts',
  vars: { BENCH_EVENTS: process.env.BENCH_EVENTS ?? '2000' },
  testTimeout: 600_000,
});
