/**
 * `npm run new-server <name> [-- --title "Title"]`: scaffold a hosted MCP server. Writes
 * servers/<name>/<name>.server.ts (a HostedMcpAgent with one tool, resource and prompt) and its
 * test, registers it (servers/registry.ts, servers/classes.ts, src/index.ts), adds the Durable
 * Object binding and a new migration to wrangler.jsonc and regenerates worker-configuration.d.ts.
 * All or nothing: every check runs before the first write, and a failure while writing or while
 * regenerating types restores every file.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from './lib/local-platform.ts';
import { planNewServer, PlanError, type Plan } from './lib/new-server-plan.ts';

const TYPES = 'worker-configuration.d.ts';

/** `wrangler types` with only the example secrets visible, so real secrets never shape the types. */
function regenerateTypes(root: string): void {
  const devVars = join(root, '.dev.vars');
  const example = join(root, '.dev.vars.example');
  const parked = join(root, `.dev.vars.new-server-${process.pid}`);
  const hadDevVars = existsSync(devVars);
  if (hadDevVars) renameSync(devVars, parked);
  try {
    if (existsSync(example)) copyFileSync(example, devVars);
    const result = spawnSync(join(root, 'node_modules', '.bin', 'wrangler'), ['types'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
    });
    if (result.status !== 0) throw new Error(`wrangler types failed:\n${result.stdout}${result.stderr}`);
  } finally {
    rmSync(devVars, { force: true });
    if (hadDevVars) renameSync(parked, devVars);
  }
}

function apply(root: string, plan: Plan): void {
  const originals = new Map<string, string | null>();
  const createdDirs: string[] = [];
  for (const path of [...plan.writes.keys(), TYPES]) {
    const file = join(root, path);
    originals.set(path, existsSync(file) ? readFileSync(file, 'utf8') : null);
  }
  try {
    for (const [path, content] of plan.writes) {
      const dir = dirname(join(root, path));
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true });
        createdDirs.push(dir);
      }
      writeFileSync(join(root, path), content);
    }
    regenerateTypes(root);
  } catch (error) {
    for (const [path, content] of originals) {
      if (content === null) rmSync(join(root, path), { force: true });
      else writeFileSync(join(root, path), content);
    }
    for (const dir of createdDirs.reverse()) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

const args = process.argv.slice(2);
const titleAt = args.indexOf('--title');
const title = titleAt === -1 ? undefined : args[titleAt + 1];
const name = args.find((a, i) => !a.startsWith('--') && (titleAt === -1 || i !== titleAt + 1));

try {
  const plan = planNewServer(ROOT, name, title);
  apply(ROOT, plan);
  const { names } = plan;
  console.log(`Created server "${names.name}" (${names.className}, binding ${names.binding}, migration ${plan.tag}):
  servers/${names.name}/${names.name}.server.ts        your tools, resources and prompts
  servers/${names.name}/${names.name}.server.test.ts   its test (npx vitest run servers/${names.name})
  updated servers/registry.ts, servers/classes.ts, src/index.ts, wrangler.jsonc, ${TYPES}

Next: write your tools (docs/servers.md), run its test, then enable it for a tenant:
  npm run smcp -- tenant servers <tenant> <existing,…>,${names.name}   (or PATCH /admin/api/tenants/<tenant>)
It is served at /servers/${names.name}/mcp.`);
} catch (error) {
  console.error(`new-server: ${error instanceof PlanError ? error.message : (error as Error).message}`);
  console.error('Nothing was changed.');
  process.exit(1);
}
