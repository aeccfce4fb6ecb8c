/**
 * `npm run deploy:check [env…]`: everything in docs/deploy.md that can be checked without a
 * Cloudflare account, per deployed environment (default: staging and production): the dry-run
 * build with its bundle size against the Workers limits, and the D1 migrations on a fresh local
 * database. Exits non-zero on the first failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyMigrationsLocally, currentBuild, dryRun, measureBundle, sizeReport, WORKER_SIZE_LIMITS } from './lib/deploy-check.ts';

const envs = process.argv.slice(2).length ? process.argv.slice(2) : ['staging', 'production'];
const build = currentBuild();
const work = mkdtempSync(join(tmpdir(), 'smcp-deploy-check-'));
let failed = false;
try {
  for (const env of envs) {
    const built = await dryRun(env, join(work, env, 'dist'), build);
    if (built.code !== 0) {
      console.error(`${built.command} failed:\n${built.output}`);
      failed = true;
      break;
    }
    const bundle = measureBundle(join(work, env, 'dist'));
    console.log(sizeReport(env, bundle));
    if (bundle.gzipBytes > WORKER_SIZE_LIMITS.paid) {
      console.error(`${env}: the bundle is over the Workers size limit`);
      failed = true;
    }
    const migrated = await applyMigrationsLocally(env, join(work, env, 'state'));
    if (migrated.code !== 0) {
      console.error(`${migrated.command} failed:\n${migrated.output}`);
      failed = true;
      break;
    }
    console.log(`${env}: D1 migrations apply to a fresh local database`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
