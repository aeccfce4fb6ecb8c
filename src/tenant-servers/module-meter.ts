import { parse, type Node } from 'acorn';

/**
 * Deploy-time checks and metering of a tenant's ES module, in platform code, before anything of it
 * runs. Why metering: Cloudflare enforces per-invocation CPU limits on dynamically loaded Workers
 * (`limits.cpuMs`), but local workerd enforces none, and a synchronous `while (true) {}` there blocks
 * the whole runtime. So the platform meters the code itself: every loop iteration and every function
 * entry calls a meter that throws once the call's operation budget is spent (src/tenant-servers/
 * sandbox-runtime.ts). Once spent, every further iteration or call throws again, so code that catches
 * the error cannot keep looping. Sound because workerd forbids `eval`, `new Function` and compiling
 * WebAssembly from bytes: all code a module can run is the source checked here.
 */

/** Largest module accepted, in UTF-8 bytes (stored in D1; the deploy body carries it as JSON). */
export const MAX_MODULE_BYTES = 256 * 1024;

/** The module name the sandbox gives the tenant's (metered) code; the runtime imports it. */
export const TENANT_MODULE = 'tenant.js';
/** The platform's meter module in the sandbox: the metered code imports its `meter`. */
export const METER_MODULE = 'smcp-meter.js';

/** Why a module was refused; `message` names the problem (shown to the deployer as a 400). */
export class ModuleProblem extends Error {
  constructor(
    readonly code: 'module_too_large' | 'syntax_error' | 'import_refused' | 'bad_export',
    message: string,
  ) {
    super(message);
  }
}

/** Operations one `await` costs against the call's budget (a microtask turn, far dearer than a loop step). */
export const AWAIT_COST = 100;
/** Operations entering a `catch` block costs (an exception was built, with its stack trace). */
export const CATCH_COST = 1000;

type AnyNode = Node & Record<string, unknown>;

interface Insertion {
  pos: number;
  text: string;
  closer: boolean;
  seq: number;
}

const LOOPS = new Set(['ForStatement', 'ForInStatement', 'ForOfStatement', 'WhileStatement', 'DoWhileStatement']);
const FUNCTIONS = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);
const REFUSED: Record<string, string> = {
  ImportDeclaration: 'import declarations are not allowed: a module may use only what the platform hands it (ctx)',
  ImportExpression: 'dynamic import() is not allowed',
  ExportAllDeclaration: 're-exports from other modules are not allowed',
};

/** Check a module's size and syntax, refuse imports, and return its metered form. */
export function meterModule(source: string, meterName: string): string {
  const bytes = new TextEncoder().encode(source).byteLength;
  if (bytes > MAX_MODULE_BYTES) throw new ModuleProblem('module_too_large', `module is ${bytes} bytes; the limit is ${MAX_MODULE_BYTES} bytes`);
  if (source.includes(meterName)) throw new ModuleProblem('syntax_error', 'module uses a reserved identifier');
  let program: AnyNode;
  try {
    program = parse(source, { ecmaVersion: 'latest', sourceType: 'module', locations: true }) as unknown as AnyNode;
  } catch (error) {
    throw new ModuleProblem('syntax_error', `syntax error: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!(program.body as AnyNode[]).some((n) => n.type === 'ExportDefaultDeclaration')) {
    throw new ModuleProblem('bad_export', 'the module must have a default export: export default { tools: { ... } }');
  }
  const insertions: Insertion[] = [];
  const add = (pos: number, text: string, closer: boolean) => insertions.push({ pos, text, closer, seq: insertions.length });
  const tick = `${meterName}();`;
  walk(program, (node) => {
    const refused = REFUSED[node.type] ?? (node.type === 'ExportNamedDeclaration' && node.source ? 're-exports from other modules are not allowed' : undefined);
    if (refused) {
      const line = (node.loc as { start: { line: number } } | undefined)?.start.line;
      throw new ModuleProblem('import_refused', `${refused} (line ${line})`);
    }
    if (node.type === 'CatchClause') {
      add((node.body as AnyNode).start + 1, `${meterName}(${CATCH_COST});`, false);
      return;
    }
    if (node.type === 'AwaitExpression') {
      const argument = node.argument as AnyNode;
      add(argument.start, `(${meterName}(${AWAIT_COST}), `, false);
      add(argument.end, ')', true);
      return;
    }
    const body = (LOOPS.has(node.type) || FUNCTIONS.has(node.type) ? node.body : undefined) as AnyNode | undefined;
    if (!body) return;
    if (body.type === 'BlockStatement') add(body.start + 1, tick, false);
    else if (LOOPS.has(node.type)) {
      add(body.start, `{${tick}`, false);
      add(body.end, '}', true);
    } else {
      add(body.start, `(${meterName}(), `, false);
      add(body.end, ')', true);
    }
  });
  // Forward splice. At one position, closers go first (inner before outer), then openers (outer before inner).
  insertions.sort((a, b) => a.pos - b.pos || (a.closer === b.closer ? (a.closer ? b.seq - a.seq : a.seq - b.seq) : a.closer ? -1 : 1));
  let out = `import { meter as ${meterName} } from './${METER_MODULE}';\n`;
  let last = 0;
  for (const ins of insertions) {
    out += source.slice(last, ins.pos) + ins.text;
    last = ins.pos;
  }
  return out + source.slice(last);
}

/** Pre-order walk over every AST node (outer nodes before the nodes they contain). */
function walk(node: AnyNode, visit: (node: AnyNode) => void): void {
  visit(node);
  for (const key of Object.keys(node)) {
    if (key === 'loc') continue;
    const value = node[key];
    if (Array.isArray(value)) {
      for (const child of value) if (child && typeof child === 'object' && typeof (child as AnyNode).type === 'string') walk(child as AnyNode, visit);
    } else if (value && typeof value === 'object' && typeof (value as AnyNode).type === 'string') walk(value as AnyNode, visit);
  }
}
