/**
 * What `npm run new-server <name>` changes, computed entirely in memory first: every check runs
 * and every edit is made on strings before anything is written, so a bad name, an existing server
 * or an unexpected file layout changes nothing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendToArray, findArrays } from './jsonc-edit.ts';
import { namesFor, serverSource, testSource, tsString, type ServerNames } from './server-template.ts';

/** Lower-case words joined by single hyphens, starting with a letter, at most 32 characters. */
export const NEW_SERVER_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

export interface Plan {
  names: ServerNames;
  /** Relative path → new content (files to create or replace). */
  writes: Map<string, string>;
  /** The migration tag added. */
  tag: string;
}

export class PlanError extends Error {}

function read(root: string, path: string): string {
  const file = join(root, path);
  if (!existsSync(file)) throw new PlanError(`${path} is missing; run this from the SMCP repository`);
  return readFileSync(file, 'utf8');
}

function nextTag(wrangler: string): string {
  const span = findArrays(wrangler).get('migrations');
  if (!span) throw new PlanError('wrangler.jsonc has no "migrations" array');
  const body = wrangler.slice(span.open, span.close);
  const numbers = [...body.matchAll(/"tag"\s*:\s*"v(\d+)"/g)].map((m) => Number(m[1]));
  return `v${Math.max(0, ...numbers) + 1}`;
}

/** Validate `name` against the repository at `root` and compute every edit. Throws PlanError. */
export function planNewServer(root: string, name: string | undefined, title?: string): Plan {
  if (!name) throw new PlanError('usage: npm run new-server <name> [-- --title "Title"]   e.g. npm run new-server weather-report');
  if (name.length > 32 || !NEW_SERVER_NAME.test(name)) {
    throw new PlanError(
      `invalid server name "${name}": use lower-case letters, digits and single hyphens, starting with a letter, at most 32 characters (e.g. weather-report)`,
    );
  }
  if (title !== undefined && (title.trim() === '' || title.length > 80 || /[\u0000-\u001f]/.test(title)))
    throw new PlanError('title must be 1-80 characters on one line');
  const n = namesFor(name, title);

  const registry = read(root, 'servers/registry.ts');
  const classes = read(root, 'servers/classes.ts');
  const index = read(root, 'src/index.ts');
  const wrangler = read(root, 'wrangler.jsonc');

  if (new RegExp(`name: '${name}'`).test(registry)) throw new PlanError(`server "${name}" already exists in servers/registry.ts`);
  const dir = `servers/${name}`;
  if (existsSync(join(root, dir))) throw new PlanError(`${dir}/ already exists; choose another name or remove it`);
  for (const [what, value] of [
    ['class', n.className],
    ['binding', n.binding],
  ] as const) {
    if (wrangler.includes(`"${value}"`)) throw new PlanError(`${what} ${value} is already used in wrangler.jsonc`);
    if (new RegExp(`\\b${value}\\b`).test(registry + classes + index))
      throw new PlanError(`${what} ${value} is already used in servers/registry.ts, servers/classes.ts or src/index.ts`);
  }

  const serversStart = registry.indexOf('export const SERVERS');
  const serversEnd = registry.indexOf('\n];', serversStart);
  if (serversStart === -1 || serversEnd === -1) throw new PlanError('servers/registry.ts: could not find the SERVERS list');
  const entry = `  { name: ${tsString(n.name)}, binding: ${tsString(n.binding)}, className: ${tsString(n.className)}, title: ${tsString(n.title)} },`;
  const newRegistry = `${registry.slice(0, serversEnd)}\n${entry}${registry.slice(serversEnd)}`;

  const newClasses = `${classes.replace(/\n*$/, '\n')}export { ${n.className} } from './${name}/${name}.server';\n`;

  const exportLine = /export \{([^}]*)\} from '\.\.\/servers\/classes';/;
  const exported = exportLine.exec(index);
  if (!exported) throw new PlanError("src/index.ts: could not find export { … } from '../servers/classes'");
  const newIndex = index.replace(exportLine, `export {${exported[1]!.replace(/\s*$/, '')}, ${n.className} } from '../servers/classes';`);

  const tag = nextTag(wrangler);
  let newWrangler: string;
  try {
    const binding = `{ "name": "${n.binding}", "class_name": "${n.className}" }`;
    newWrangler = appendToArray(wrangler, 'durable_objects.bindings', binding);
    // Wrangler does not inherit Durable Object bindings into environments: each deployed one gets it too.
    for (const path of [...findArrays(newWrangler).keys()].filter((p) => /^env\.[^.]+\.durable_objects\.bindings$/.test(p))) {
      newWrangler = appendToArray(newWrangler, path, binding);
    }
    newWrangler = appendToArray(newWrangler, 'migrations', `{ "tag": "${tag}", "new_sqlite_classes": ["${n.className}"] }`);
    findArrays(newWrangler);
  } catch (error) {
    throw new PlanError((error as Error).message);
  }

  const writes = new Map<string, string>([
    [`${dir}/${name}.server.ts`, serverSource(n)],
    [`${dir}/${name}.server.test.ts`, testSource(n)],
    ['servers/registry.ts', newRegistry],
    ['servers/classes.ts', newClasses],
    ['src/index.ts', newIndex],
    ['wrangler.jsonc', newWrangler],
  ]);
  return { names: n, writes, tag };
}
