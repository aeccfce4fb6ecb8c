import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/lib/local-platform.ts';
import { wranglerConfig, type WranglerConfig } from '../support/wrangler-config';

/**
 * wrangler.jsonc's deployed environments stay complete. Wrangler does not inherit vars, bindings,
 * Durable Object bindings, rate limits or version metadata into `env.<name>`: a binding added at the
 * top level (local development, the tests) and forgotten in an environment deploys a Worker whose
 * code reads `env.X` as undefined. Each failure says what to add where.
 */

const DEPLOYED = ['staging', 'production'];

/** Wrangler's non-inheritable keys, from its own schema (those documented "not automatically inherited") plus the two it does not document. */
function nonInheritableKeys(): string[] {
  const schema = JSON.parse(readFileSync(join(ROOT, 'node_modules/wrangler/config-schema.json'), 'utf8')) as {
    definitions: { RawEnvironment: { properties: Record<string, { description?: string }> } };
  };
  const props = schema.definitions.RawEnvironment.properties;
  return [...Object.keys(props).filter((k) => props[k]!.description?.includes('not automatically inherited')), 'durable_objects', 'version_metadata'];
}

/** The names a key binds: binding/name of each array element, DO name→class, var names, or the object's binding. */
function boundNames(key: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (key === 'durable_objects') return ((value as WranglerConfig['durable_objects'])?.bindings ?? []).map((b) => `${b.name} (class ${b.class_name})`);
  if (key === 'vars' || key === 'define') return Object.keys(value as object);
  const named = (v: Record<string, unknown>) => String(v.binding ?? v.name ?? JSON.stringify(v));
  if (Array.isArray(value)) return value.map((v) => named(v as Record<string, unknown>));
  if (typeof value === 'object' && value !== null) return [named(value as Record<string, unknown>)];
  return [JSON.stringify(value)];
}

/** Resource identifiers that must differ between environments, so staging never writes production's data. */
function resourceIds(section: Record<string, unknown>): string[] {
  const ids: string[] = [];
  const pick = (key: string, fields: string[]) =>
    ((section[key] as Array<Record<string, unknown>> | undefined) ?? []).forEach((b) =>
      fields.forEach((f) => b[f] !== undefined && ids.push(`${key}.${f}=${String(b[f])}`)),
    );
  pick('kv_namespaces', ['id']);
  pick('d1_databases', ['database_id', 'database_name']);
  pick('r2_buckets', ['bucket_name']);
  pick('ratelimits', ['namespace_id']);
  return ids;
}

/** Every way the environments fall short of the top level, phrased as what to add. */
function environmentProblems(config: WranglerConfig): string[] {
  const problems: string[] = [];
  const top = config as Record<string, unknown>;
  for (const name of DEPLOYED) {
    const env = config.env?.[name];
    if (!env) {
      problems.push(`wrangler.jsonc: add env.${name}`);
      continue;
    }
    for (const key of nonInheritableKeys()) {
      const want = boundNames(key, top[key]);
      const have = boundNames(key, env[key]);
      for (const missing of want.filter((n) => !have.includes(n))) problems.push(`wrangler.jsonc env.${name}.${key}: add ${missing} (the top level has it)`);
      for (const extra of have.filter((n) => !want.includes(n)))
        problems.push(`wrangler.jsonc ${key}: add ${extra} at the top level too (env.${name} has it; local development and the tests run the top level)`);
    }
    const vars = (env.vars ?? {}) as Record<string, string>;
    if (!/^https:\/\/[^/]+$/.test(vars.SMCP_PUBLIC_URL ?? ''))
      problems.push(`wrangler.jsonc env.${name}.vars.SMCP_PUBLIC_URL must be an https origin, not ${vars.SMCP_PUBLIC_URL}`);
    if (env.migrations !== undefined) problems.push(`wrangler.jsonc env.${name}: Durable Object migrations are top-level only; remove env.${name}.migrations`);
  }
  const sections = [['top level', top] as const, ...DEPLOYED.map((n) => [`env.${n}`, config.env?.[n] ?? {}] as const)];
  const seen = new Map<string, string>();
  for (const [where, section] of sections) {
    for (const id of resourceIds(section)) {
      if (seen.has(id)) problems.push(`wrangler.jsonc ${where} shares ${id} with ${seen.get(id)}: each environment needs its own resource`);
      else seen.set(id, where);
    }
  }
  const origins = DEPLOYED.map((n) => (config.env?.[n]?.vars as Record<string, string> | undefined)?.SMCP_PUBLIC_URL);
  if (new Set(origins).size !== origins.length) problems.push('wrangler.jsonc: staging and production need different SMCP_PUBLIC_URL origins');
  return problems;
}

describe('wrangler.jsonc environments', () => {
  it('staging and production each have every binding, var and Durable Object the top level has, with their own resources', () => {
    const problems = environmentProblems(wranglerConfig());
    expect(problems, `\n${problems.join('\n')}\n`).toEqual([]);
  });

  it('catches drift: a binding added at the top level only, a missing section, a shared database', () => {
    const config = wranglerConfig();
    const drifted = structuredClone(config) as WranglerConfig & Record<string, unknown>;
    drifted.durable_objects!.bindings!.push({ name: 'NEW_OBJECT', class_name: 'NewObject' });
    drifted.worker_loaders = [...(((config as Record<string, unknown>).worker_loaders as Array<{ binding: string }>) ?? []), { binding: 'NEW_LOADER' }];
    (drifted.vars as Record<string, string>).NEW_VAR = 'x';
    delete drifted.env!.production!.version_metadata;
    (drifted.env!.staging!.d1_databases as Array<Record<string, unknown>>)[0]!.database_id = (
      config.env!.production!.d1_databases as Array<Record<string, unknown>>
    )[0]!.database_id;
    const problems = environmentProblems(drifted);
    for (const env of DEPLOYED) {
      expect(problems).toContain(`wrangler.jsonc env.${env}.durable_objects: add NEW_OBJECT (class NewObject) (the top level has it)`);
      expect(problems).toContain(`wrangler.jsonc env.${env}.worker_loaders: add NEW_LOADER (the top level has it)`);
      expect(problems).toContain(`wrangler.jsonc env.${env}.vars: add NEW_VAR (the top level has it)`);
    }
    expect(problems).toContain('wrangler.jsonc env.production.version_metadata: add CF_VERSION_METADATA (the top level has it)');
    expect(problems.some((p) => p.includes('shares d1_databases.database_id='))).toBe(true);
    delete drifted.env!.staging;
    expect(environmentProblems(drifted)).toContain('wrangler.jsonc: add env.staging');
  });
});
