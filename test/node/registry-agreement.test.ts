import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { SERVERS } from '../../servers/registry';
import { PLATFORM_OBJECTS } from '../../src/platform-objects';
import { ROOT } from '../../scripts/lib/local-platform.ts';
import { wranglerConfig } from '../support/wrangler-config';

const source = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** Every agreement problem, each phrased as the exact line to add and where. */
function agreementProblems(): string[] {
  const config = wranglerConfig();
  const bindings = config.durable_objects?.bindings ?? [];
  const migrations = config.migrations ?? [];
  const migrated = new Map<string, string>();
  for (const m of migrations) {
    for (const c of [...(m.new_sqlite_classes ?? []), ...(m.new_classes ?? [])]) migrated.set(c, m.tag);
    for (const c of m.deleted_classes ?? []) migrated.delete(c);
  }
  const lastTag = Math.max(0, ...migrations.map((m) => Number(/^v(\d+)$/.exec(m.tag)?.[1] ?? 0)));
  const nextTag = `v${lastTag + 1}`;
  const classes = source('servers/classes.ts');
  const index = source('src/index.ts');
  const indexServerExports =
    /export \{([^}]*)\} from '\.\.\/servers\/classes';/
      .exec(index)?.[1]
      ?.split(',')
      .map((s) => s.trim()) ?? [];
  const problems: string[] = [];

  const needBindingAndMigration = (binding: string, className: string) => {
    if (!bindings.some((b) => b.name === binding && b.class_name === className)) {
      problems.push(`wrangler.jsonc durable_objects.bindings: add { "name": "${binding}", "class_name": "${className}" }`);
    }
    if (!migrated.has(className)) problems.push(`wrangler.jsonc migrations: add { "tag": "${nextTag}", "new_sqlite_classes": ["${className}"] } at the end`);
  };
  for (const s of SERVERS) {
    needBindingAndMigration(s.binding, s.className);
    if (!new RegExp(`^export \\{ ${s.className} \\} from '\\./${s.name}/${s.name}\\.server';$`, 'm').test(classes)) {
      problems.push(`servers/classes.ts: add export { ${s.className} } from './${s.name}/${s.name}.server';`);
    }
    if (!indexServerExports.includes(s.className)) problems.push(`src/index.ts: add ${s.className} to export { … } from '../servers/classes';`);
  }
  for (const o of PLATFORM_OBJECTS) {
    needBindingAndMigration(o.binding, o.className);
    if (!new RegExp(`^export \\{ ${o.className} \\} from '${o.module.replace(/[.]/g, '\\.')}';$`, 'm').test(index)) {
      problems.push(`src/index.ts: add export { ${o.className} } from '${o.module}';`);
    }
  }
  const known = [...SERVERS, ...PLATFORM_OBJECTS];
  for (const b of bindings) {
    if (!known.some((k) => k.binding === b.name)) {
      problems.push(
        `wrangler.jsonc binding ${b.name} (class ${b.class_name}) is in no registry: add it to SERVERS in servers/registry.ts (an MCP server) or to PLATFORM_OBJECTS in src/platform-objects.ts, or remove the binding`,
      );
    }
  }
  for (const [className, tag] of migrated) {
    if (!bindings.some((b) => b.class_name === className)) {
      problems.push(
        `wrangler.jsonc: migration ${tag} creates ${className} but nothing binds it; add a binding, or add { "tag": "${nextTag}", "deleted_classes": ["${className}"] }`,
      );
    }
  }
  const tags = migrations.map((m) => m.tag);
  if (new Set(tags).size !== tags.length) problems.push(`wrangler.jsonc migrations: tags must be unique (${tags.join(', ')})`);
  return problems;
}

// The registry, wrangler.jsonc (bindings and migrations), servers/classes.ts and src/index.ts must
// name the same Durable Object classes; each failure says exactly what to add where.
it('registry, wrangler.jsonc bindings and migrations, and exported classes agree', () => {
  const problems = agreementProblems();
  expect(problems, `\n${problems.join('\n')}\n`).toEqual([]);
});
