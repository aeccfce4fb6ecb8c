import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

/**
 * A benchmark run inside workerd against the real Worker and its Durable Objects (the project's
 * wrangler.jsonc, migrations applied as in the tests), for the `npm run bench:audit*` scripts: one
 * home for that setup, each benchmark naming only its files, settings and time limits. Not part of
 * `npm test`.
 */
export function workerdBench(opts: { name: string; include: string; vars: Record<string, string>; testTimeout: number; hookTimeout?: number }) {
  return defineConfig({
    plugins: [
      cloudflareTest(async () => ({
        wrangler: { configPath: './wrangler.jsonc' },
        miniflare: {
          bindings: {
            SMCP_ADMIN_TOKEN: 'bench-operator-token-0123456789',
            SMCP_SECRET: 'bench-secret-0123456789abcdef0123456789',
            TEST_MIGRATIONS: await readD1Migrations('./migrations'),
            ...opts.vars,
          },
        },
      })),
    ],
    test: {
      name: opts.name,
      include: [opts.include],
      setupFiles: ['test/worker/apply-migrations.ts'],
      testTimeout: opts.testTimeout,
      ...(opts.hookTimeout !== undefined && { hookTimeout: opts.hookTimeout }),
    },
  });
}
