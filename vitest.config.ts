import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

/**
 * Two projects: `worker` runs inside workerd with the real bindings (D1, KV, Durable Objects)
 * through @cloudflare/vitest-plugin; `e2e` runs in Node and drives `wrangler dev` with real
 * clients (the official MCP SDK, the conformance suite).
 */
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: './wrangler.jsonc' },
            miniflare: {
              bindings: {
                SMCP_ADMIN_TOKEN: 'test-operator-token-0123456789',
                SMCP_SECRET: 'test-secret-0123456789abcdef0123456789',
                // 32 bytes of 0x07: a fixed test keyring for secrets at rest. SMCP_ALLOW_PRIVATE_UPSTREAMS
                // stays unset here, so worker tests see production URL rules.
                SMCP_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
                TEST_MIGRATIONS: await readD1Migrations('./migrations'),
              },
            },
          })),
        ],
        test: { name: 'worker', include: ['test/worker/**/*.test.ts', 'servers/**/*.test.ts'], setupFiles: ['test/worker/apply-migrations.ts'] },
      },
      {
        test: { name: 'node', include: ['test/node/**/*.test.ts'], environment: 'node', testTimeout: 120_000, hookTimeout: 180_000 },
      },
    ],
  },
});
