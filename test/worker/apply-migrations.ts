import { applyD1Migrations, env, type D1Migration } from 'cloudflare:test';

// Every worker test starts from the real schema: the same migration files wrangler applies
// (read by vitest.config.ts and passed in as the TEST_MIGRATIONS binding).
const { DB, TEST_MIGRATIONS } = env as unknown as { DB: D1Database; TEST_MIGRATIONS: D1Migration[] };
await applyD1Migrations(DB, TEST_MIGRATIONS);
