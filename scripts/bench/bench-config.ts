/**
 * The benchmark's wrangler configs, generated from the production `wrangler.jsonc` on every run so
 * it always carries the same bindings (KV, D1, R2, every Durable Object the platform adds) and
 * differs only in what the benchmark needs: the bench Worker entry, the bare McpAgent's binding,
 * and the `everything` route's namespace pointed at `BenchPlatformServer` (or, for the unaudited
 * variant, `BenchUnauditedServer`). Production config is
 * never touched.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { ROOT } from '../lib/local-platform.ts';

/** The hosted-server route the platform variant uses (its binding is re-pointed below). */
export const PLATFORM_SERVER = 'everything';
const PLATFORM_BINDING = 'EVERYTHING_SERVER';
/**
 * What the modern variant calls on the platform route: the stateless lane serves each server's own
 * definition (`servers/classes.ts`), not the Durable Object class the binding points at, so on
 * `everything` it runs the conformance fixture `test_simple_text` (a fixed text result, as trivial
 * as `echo`).
 */
export const MODERN_TOOL = { name: 'test_simple_text', arguments: {} };

interface DoBinding {
  name: string;
  class_name: string;
  [k: string]: unknown;
}
interface WranglerConfig {
  main: string;
  d1_databases?: Array<{ migrations_dir?: string; [k: string]: unknown }>;
  durable_objects?: { bindings?: DoBinding[] };
  migrations?: Array<{ tag: string; [k: string]: unknown }>;
  [k: string]: unknown;
}

/**
 * The Durable Object class the platform route serves, per variant: the platform variant's
 * `BenchPlatformServer`, or the unaudited variant's `BenchUnauditedServer` (the same server whose
 * session records nothing: what auditing costs, measured in the same run).
 */
export type PlatformClass = 'BenchPlatformServer' | 'BenchUnauditedServer';

/** Write `bench/.generated/wrangler.<class>.json` (the platform route bound to `platformClass`) and return its path. */
export function writeBenchConfig(platformClass: PlatformClass = 'BenchPlatformServer'): string {
  const source = join(ROOT, 'wrangler.jsonc');
  const parsed = ts.parseConfigFileTextToJson(source, readFileSync(source, 'utf8'));
  if (parsed.error) throw new Error('wrangler.jsonc does not parse');
  const config = parsed.config as WranglerConfig;
  const bindings = config.durable_objects?.bindings ?? [];
  const platform = bindings.find((b) => b.name === PLATFORM_BINDING);
  if (!platform) throw new Error(`wrangler.jsonc has no ${PLATFORM_BINDING} binding for the platform variant`);
  platform.class_name = platformClass;
  bindings.push({ name: 'BENCH_BARE', class_name: 'BenchBareServer' });

  const dir = join(ROOT, 'bench', '.generated');
  mkdirSync(dir, { recursive: true });
  const bench: WranglerConfig = {
    ...config,
    name: 'smcp-bench',
    main: '../bench-worker.ts',
    d1_databases: (config.d1_databases ?? []).map((d) => ({ ...d, migrations_dir: d.migrations_dir ? join('..', '..', d.migrations_dir) : undefined })),
    durable_objects: { ...config.durable_objects, bindings },
    migrations: [...(config.migrations ?? []), { tag: 'bench-v1', new_sqlite_classes: ['BenchPlatformServer', 'BenchUnauditedServer', 'BenchBareServer'] }],
  };
  delete bench.$schema;
  const file = join(dir, `wrangler.${platformClass}.json`);
  writeFileSync(file, `${JSON.stringify(bench, null, 2)}\n`);
  return file;
}
