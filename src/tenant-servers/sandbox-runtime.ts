/**
 * The platform's own code inside a tenant's sandbox isolate: two small modules loaded next to the
 * tenant's metered module (src/tenant-servers/module-meter.ts). Kept as source text because the
 * Dynamic Worker Loader takes modules as strings. They hold no secret and no platform binding: the
 * isolate's `env` carries only the tenant-confined capability stubs (capabilities.ts).
 *
 * `smcp-meter.js` keeps one operation budget per call (AsyncLocalStorage, so concurrent calls of one
 * isolate are metered apart and a call abandoned by the platform keeps spending its own budget until
 * it stops) and charges the builtins that allocate in proportion to an argument (fill, repeat, join,
 * typed arrays...), so unbounded allocation is bounded by the same budget.
 *
 * `smcp-runtime.js` is the entrypoint the platform calls over RPC: `describe()` reports the module's
 * tools as plain data (checked again by the platform), `call()` runs one tool's `run(args, ctx)`
 * under a fresh budget and returns its result as JSON text, refusing results over the size cap.
 */

export const METER_SOURCE = String.raw`
import { AsyncLocalStorage } from 'node:async_hooks';
const calls = new AsyncLocalStorage();
// Top-level code of the tenant module (evaluated once per isolate) has a budget of its own.
const loading = { used: 0, limit: 1000000, exhausted: false };
const BudgetError = RangeError;
export function meter(cost) {
  const b = calls.getStore() ?? loading;
  if ((b.used += cost === undefined ? 1 : cost) > b.limit) { b.exhausted = true; throw new BudgetError('SMCP: operation budget exhausted'); }
}
function charge(n) {
  const b = calls.getStore() ?? loading;
  b.used += Math.max(0, Number(n) || 0);
  if (b.used > b.limit) { b.exhausted = true; throw new BudgetError('SMCP: operation budget exhausted'); }
}
export function runMetered(state, fn) { return calls.run(state, fn); }
// Evaluated before the tenant's module: the runtime uses these, whatever the tenant later replaces.
export const intrinsics = Object.freeze({ stringify: JSON.stringify, parse: JSON.parse, hasOwn: Object.hasOwn, freeze: Object.freeze, keys: Object.keys, isArray: Array.isArray, String });
const lock = (obj, name, value) => Object.defineProperty(obj, name, { value, writable: false, configurable: false, enumerable: false });
function metered(proto, name, cost) {
  const original = proto[name];
  lock(proto, name, { [name](...args) { charge(cost(this, args)); return Reflect.apply(original, this, args); } }[name]);
}
const len = (x) => (x != null && typeof x.length === 'number' ? x.length : 0);
metered(Array.prototype, 'fill', (self) => len(self));
metered(Array.prototype, 'join', (self) => len(self));
metered(Array.prototype, 'concat', (self, args) => len(self) + args.reduce((n, a) => n + (Array.isArray(a) ? a.length : 1), 0));
metered(String.prototype, 'repeat', (self, [count]) => (String(self).length * (Number(count) || 0)) / 8);
metered(String.prototype, 'padStart', (self, [n]) => (Number(n) || 0) / 8);
metered(String.prototype, 'padEnd', (self, [n]) => (Number(n) || 0) / 8);
const arrayFrom = Array.from;
lock(Array, 'from', function from(src, ...rest) { charge(len(src)); return Reflect.apply(arrayFrom, this, [src, ...rest]); });
for (const name of ['ArrayBuffer', 'SharedArrayBuffer', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array']) {
  const Ctor = globalThis[name];
  if (typeof Ctor !== 'function') continue;
  const bytes = name.endsWith('ArrayBuffer') ? 1 : Ctor.BYTES_PER_ELEMENT;
  const guarded = new Proxy(Ctor, {
    construct(target, args, newTarget) { if (typeof args[0] === 'number') charge((args[0] * bytes) / 8); return Reflect.construct(target, args, newTarget === guarded ? target : newTarget); },
  });
  lock(Ctor.prototype, 'constructor', guarded);
  lock(globalThis, name, guarded);
}
`;

export const RUNTIME_SOURCE = String.raw`
import { WorkerEntrypoint } from 'cloudflare:workers';
import { intrinsics, runMetered } from './smcp-meter.js';
import tenant from './tenant.js';
const { stringify, parse, hasOwn, freeze, keys, isArray, String } = intrinsics;

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const isObject = (v) => v !== null && typeof v === 'object' && !isArray(v);
const plain = (v) => (v === undefined ? undefined : parse(stringify(v)));

function shape() {
  if (!isObject(tenant)) return { problem: 'the default export must be an object: export default { tools: { ... } }' };
  if (!isObject(tenant.tools)) return { problem: 'the default export must have a "tools" object' };
  const names = keys(tenant.tools);
  if (names.length === 0) return { problem: 'the module must define at least one tool' };
  if (names.length > 100) return { problem: 'a module may define at most 100 tools' };
  const tools = [];
  for (const name of names) {
    const t = tenant.tools[name];
    const where = 'tool "' + name + '"';
    if (!TOOL_NAME.test(name)) return { problem: where + ': names are 1-64 characters of A-Z a-z 0-9 _ . -' };
    if (!isObject(t)) return { problem: where + ' must be an object' };
    if (typeof t.run !== 'function') return { problem: where + ': "run" must be a function' };
    if (typeof t.description !== 'string') return { problem: where + ': "description" must be a string' };
    if (!isObject(t.inputSchema) || t.inputSchema.type !== 'object') return { problem: where + ': "inputSchema" must be a JSON Schema object with type "object"' };
    if (t.annotations !== undefined && !isObject(t.annotations)) return { problem: where + ': "annotations" must be an object' };
    if (t._meta !== undefined && !isObject(t._meta)) return { problem: where + ': "_meta" must be an object' };
    try {
      tools.push({ name, title: typeof t.title === 'string' ? t.title : undefined, description: t.description, inputSchema: plain(t.inputSchema), annotations: plain(t.annotations), _meta: plain(t._meta) });
    } catch (error) {
      return { problem: where + ': definition is not plain JSON data (' + String(error && error.message) + ')' };
    }
  }
  return { tools };
}
const described = (() => { try { return shape(); } catch (error) { return { problem: 'reading the export failed: ' + String(error && error.message) }; } })();

function context(env, caller, hooks) {
  const kv = env.KV, files = env.FILES;
  return freeze({
    caller: freeze({ ...caller }),
    kv: freeze({
      get: (key) => kv.get(key),
      put: (key, value, options) => kv.put(key, value, options),
      delete: (key) => kv.delete(key),
      list: (options) => kv.list(options),
    }),
    files: freeze({
      get: (path) => files.get(path),
      put: (path, text) => files.put(path, text),
      delete: (path) => files.delete(path),
      list: (options) => files.list(options),
    }),
    progress: (progress, total, message) => hooks('progress', progress, total, message),
    log: (level, data) => hooks('log', level, data),
  });
}

export default class Sandbox extends WorkerEntrypoint {
  describe() { return described; }

  async call(name, args, caller, hooks, budget, maxResultChars) {
    if (!described.tools || !hasOwn(tenant.tools, name)) return { error: 'Unknown tool "' + name + '"' };
    const state = { used: 0, limit: budget, exhausted: false };
    try {
      const json = await runMetered(state, async () => stringify(await tenant.tools[name].run(args, context(this.env, caller, hooks))));
      if (state.exhausted) return { fault: 'budget', used: state.used };
      if (typeof json !== 'string') return { error: 'run() returned nothing' };
      if (json.length > maxResultChars) return { fault: 'result_too_large', size: json.length };
      return { json, used: state.used };
    } catch (error) {
      if (state.exhausted) return { fault: 'budget', used: state.used };
      let message;
      try { message = String(error && error.message !== undefined ? error.message : error); } catch { message = 'tool failed'; }
      return { error: message.slice(0, 1000) };
    }
  }
}
`;
