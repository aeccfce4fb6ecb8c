import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

/**
 * Projects: `worker` runs inside workerd with the real bindings (D1, KV, Durable Objects)
 * through @cloudflare/vitest-plugin (`worker-expiry` is the same with a 3-second session idle
 * time); `node` runs in Node and drives `wrangler dev` with real clients (the official MCP SDK,
 * the conformance suite, Chromium).
 */
const workerProject = (name: string, include: string[], exclude: string[], vars: Record<string, string> = {}) => ({
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
          ...vars,
        },
      },
    })),
  ],
  // Generous: the machine running the suite may be busy; no test asserts on timing.
  test: { name, include, exclude, setupFiles: ['test/worker/apply-migrations.ts'], testTimeout: 60_000 },
});

// Idle expiry is tested with a 3-second idle time in its own workerd, so no other test's sessions expire.
const EXPIRY_TESTS = ['test/worker/session-expiry.test.ts'];

export default defineConfig({
  test: {
    projects: [
      workerProject('worker', ['test/worker/**/*.test.ts', 'servers/**/*.test.ts'], EXPIRY_TESTS, { SMCP_ALLOWED_ORIGINS: 'http://inspector.test:6274' }),
      workerProject('worker-expiry', EXPIRY_TESTS, [], { SMCP_SESSION_IDLE_MINUTES: '0.05' }),
      {
        test: { name: 'node', include: ['test/node/**/*.test.ts'], environment: 'node', testTimeout: 120_000, hookTimeout: 180_000 },
      },
    ],
  },
});
