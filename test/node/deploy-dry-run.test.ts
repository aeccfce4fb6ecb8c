import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyMigrationsLocally, currentBuild, dryRun, localTables, measureBundle, sizeReport, WORKER_SIZE_LIMITS } from '../../scripts/lib/deploy-check.ts';
import { ROOT } from '../../scripts/lib/local-platform.ts';
import { wranglerConfig } from '../support/wrangler-config';

/**
 * The offline half of docs/deploy.md, for each deployed environment: the dry-run deploy builds,
 * wrangler accepts its bindings, every Durable Object class it binds or migrates is exported by the
 * bundle, the bundle fits the Workers size limits, and the D1 migrations apply to a fresh local
 * database through the environment's binding. The guide names exactly these commands.
 */

const DEPLOYED = ['staging', 'production'] as const;
const work = mkdtempSync(join(tmpdir(), 'smcp-deploy-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const build = currentBuild();
const guide = readFileSync(join(ROOT, 'docs/deploy.md'), 'utf8');

describe('deploy, offline', () => {
  it('docs/deploy.md names the commands this test runs', () => {
    for (const command of [
      'npm run deploy:check',
      'npx wrangler deploy --dry-run --outdir dist/staging --env staging --var SMCP_BUILD:$(git rev-parse --short HEAD)',
      'npx wrangler d1 migrations apply DB --local --persist-to .wrangler/deploy-check --env staging',
      'npx wrangler d1 migrations apply DB --remote --env staging',
      'npx wrangler d1 migrations apply DB --remote --env production',
    ]) {
      expect(guide, command).toContain(command);
    }
  });

  for (const env of DEPLOYED) {
    it(`${env}: the dry-run deploy builds, binds what the config declares and fits the size limits`, async () => {
      const outdir = join(work, env, 'dist');
      const run = await dryRun(env, outdir, build);
      expect(run.code, run.output).toBe(0);
      const section = wranglerConfig().env![env]!;
      // Wrangler lists every binding it would deploy; the environment's own resources are the ones named.
      const d1 = (section.d1_databases as Array<{ database_name: string }>)[0]!;
      expect(run.output).toContain(`env.DB (${d1.database_name})`);
      // A --var value is printed as "(hidden)"; that it is listed proves wrangler took the deploy-time build label.
      expect(run.output).toMatch(/env\.SMCP_BUILD \("\(hidden\)"\)/);
      expect(run.output).toContain('env.CF_VERSION_METADATA');
      const bundle = measureBundle(outdir);
      const bound = (section.durable_objects as { bindings: Array<{ name: string; class_name: string }> }).bindings;
      for (const b of bound) {
        expect(bundle.exports, `${b.class_name} (binding ${b.name}) is not exported by the bundle`).toContain(b.class_name);
        expect(run.output).toContain(`env.${b.name} (${b.class_name})`);
      }
      const migrated = (wranglerConfig().migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? m.new_classes ?? []);
      for (const c of migrated) expect(bundle.exports, `migrated class ${c} is not exported by the bundle`).toContain(c);
      console.log(sizeReport(env, bundle));
      expect(bundle.gzipBytes).toBeLessThan(WORKER_SIZE_LIMITS.paid);
    });

    it(`${env}: the D1 migrations apply to a fresh local database`, async () => {
      const state = join(work, env, 'state');
      const run = await applyMigrationsLocally(env, state);
      expect(run.code, run.output).toBe(0);
      const tables = await localTables(state);
      expect(tables).toEqual(expect.arrayContaining(['tenants', 'users', 'api_keys', 'd1_migrations']));
    });
  }
});
