import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { expect, it } from 'vitest';
import { SERVERS } from '../../servers/registry';
import { PLATFORM_OBJECTS } from '../../src/platform-objects';
import { ROOT } from '../../scripts/lib/local-platform.ts';

interface WranglerConfig {
  durable_objects?: { bindings?: Array<{ name: string; class_name: string }> };
  migrations?: Array<{ tag: string; new_sqlite_classes?: string[]; new_classes?: string[]; deleted_classes?: string[] }>;
}

function wranglerConfig(): WranglerConfig {
  const file = join(ROOT, 'wrangler.jsonc');
  const parsed = ts.parseConfigFileTextToJson(file, readFileSync(file, 'utf8'));
  if (parsed.error) throw new Error(`wrangler.jsonc does not parse: ${ts.flattenDiagnosticMessageText(parsed.error.messageText, '\n')}`);
  return parsed.config as WranglerConfig;
}

// The registry, wrangler.jsonc (bindings and migrations) and servers/classes.ts must name the same
// servers; each failure says exactly what to add where.
it('registry, wrangler.jsonc bindings and migrations, and exported classes agree', () => {
  const config = wranglerConfig();
  const bindings = config.durable_objects?.bindings ?? [];
  const migrated = new Set<string>();
  for (const m of config.migrations ?? []) {
    for (const c of m.new_sqlite_classes ?? []) migrated.add(c);
    for (const c of m.deleted_classes ?? []) migrated.delete(c);
  }
  const classes = readFileSync(join(ROOT, 'servers', 'classes.ts'), 'utf8');
  const problems: string[] = [];
  for (const s of SERVERS) {
    if (!bindings.some((b) => b.name === s.binding && b.class_name === s.className)) {
      problems.push(`wrangler.jsonc durable_objects.bindings: add { "name": "${s.binding}", "class_name": "${s.className}" }`);
    }
    if (!migrated.has(s.className)) problems.push(`wrangler.jsonc migrations: add a migration with "new_sqlite_classes": ["${s.className}"]`);
    if (!new RegExp(`export \\{ ${s.className} \\}`).test(classes)) problems.push(`servers/classes.ts: add export { ${s.className} } from './${s.name}/${s.name}.server'`);
  }
  const entry = readFileSync(join(ROOT, 'src', 'index.ts'), 'utf8');
  for (const o of PLATFORM_OBJECTS) {
    if (!bindings.some((b) => b.name === o.binding && b.class_name === o.className)) problems.push(`wrangler.jsonc durable_objects.bindings: add { "name": "${o.binding}", "class_name": "${o.className}" }`);
    if (!migrated.has(o.className)) problems.push(`wrangler.jsonc migrations: add a migration with "new_sqlite_classes": ["${o.className}"]`);
    if (!new RegExp(`export \\{ ${o.className} \\}`).test(entry)) problems.push(`src/index.ts: export { ${o.className} }`);
  }
  for (const b of bindings) {
    if (PLATFORM_OBJECTS.some((o) => o.binding === b.name)) continue;
    if (!SERVERS.some((s) => s.binding === b.name)) problems.push(`servers/registry.ts: add an entry for binding ${b.name} (class ${b.class_name}), or remove the binding`);
  }
  expect(problems, problems.join('\n')).toEqual([]);
});

// Hosted servers get auditing for free and cannot switch it off: only the benchmark's audit-off
// variant (bench/, never deployed) may touch the internal switch.
it('no hosted server turns off request auditing', () => {
  const files = readdirSync(join(ROOT, 'servers'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  const offenders = files.filter((f) => readFileSync(join(ROOT, 'servers', f), 'utf8').includes('auditRequests'));
  expect(offenders.map((f) => `servers/${f} touches auditRequests: remove it`)).toEqual([]);
});
