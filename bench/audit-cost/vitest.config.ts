import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

/**
 * `npm run bench:audit-cost`: what recording one request's audit event costs in the session lane,
 * piece by piece, measured inside workerd against the real Durable Objects (same wrangler.jsonc as
 * the tests). Replaces the benchmark's former audit-off server variant. Not part of `npm test`.
 */
export default defineConfig({
  plugins: [
    cloudflareTest(async () => ({
      wrangler: { configPath: './wrangler.jsonc' },
      miniflare: {
        bindings: {
          SMCP_ADMIN_TOKEN: 'bench-operator-token-0123456789',
          SMCP_SECRET: 'bench-secret-0123456789abcdef0123456789',
          TEST_MIGRATIONS: await readD1Migrations('./migrations'),
          BENCH_EVENTS: process.env.BENCH_EVENTS ?? '2000',
        },
      },
    })),
  ],
  test: {
    name: 'bench-audit-cost',
    include: ['bench/audit-cost/*.bench-test.ts'],
    setupFiles: ['test/worker/apply-migrations.ts'],
    testTimeout: 600_000,
  },
});
