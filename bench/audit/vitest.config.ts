import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

/**
 * `npm run bench:audit`: the audit store benchmark runs inside workerd against the real Worker and
 * its Durable Objects (same wrangler.jsonc as the tests), so it can seed a store directly in
 * batches instead of through a million MCP calls. Not part of `npm test`.
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
          BENCH_EVENTS: process.env.BENCH_EVENTS ?? '1000000',
          BENCH_SECONDS: process.env.BENCH_SECONDS ?? '8',
        },
      },
    })),
  ],
  test: {
    name: 'bench-audit',
    include: ['bench/audit/*.bench-test.ts'],
    setupFiles: ['test/worker/apply-migrations.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 600_000,
  },
});
