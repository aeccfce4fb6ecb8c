/**
 * Deploy-time check of a module tool's `inputSchema`: the platform validates every call's arguments
 * against it (@cfworker/json-schema), which compiles `pattern`s and resolves `$ref`s only when a
 * call reaches them. A schema with a broken regular expression or a `$ref` that cannot resolve
 * (the validator never fetches; only pointers into the same schema resolve) would make every such
 * call fail with an internal error, so it is refused at deploy with a 400 naming the place instead.
 */

/** Keywords whose values are data, not subschemas: never inspected. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples']);
/** Deeper than this is refused (the validator recurses as deep as the schema). */
const MAX_DEPTH = 64;

function hasAnchor(node: unknown, name: string, depth = 0): boolean {
  if (depth > MAX_DEPTH || node === null || typeof node !== 'object') return false;
  if (!Array.isArray(node) && (node as Record<string, unknown>).$anchor === name) return true;
  return Object.values(node).some((child) => hasAnchor(child, name, depth + 1));
}

function resolvePointer(root: unknown, ref: string): boolean {
  if (ref === '#') return true;
  if (/^#[A-Za-z_][A-Za-z0-9_.:-]*$/.test(ref)) return hasAnchor(root, ref.slice(1));
  if (!ref.startsWith('#/')) return false;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    let token: string;
    try {
      token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return false;
    }
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, token)) return false;
    node = (node as Record<string, unknown>)[token];
  }
  return node !== null && (typeof node === 'object' || typeof node === 'boolean');
}

function regexProblem(source: string): string | null {
  try {
    new RegExp(source, 'u');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : 'invalid regular expression';
  }
}

/** Why `schema` cannot validate arguments, or null when it can. `where` names the tool for the message. */
export function inputSchemaProblem(schema: unknown, where: string): string | null {
  const walk = (node: unknown, path: string, depth: number): string | null => {
    if (depth > MAX_DEPTH) return `${where}: inputSchema is nested deeper than ${MAX_DEPTH} levels`;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const problem = walk(node[i], `${path}/${i}`, depth + 1);
        if (problem) return problem;
      }
      return null;
    }
    if (node === null || typeof node !== 'object') return null;
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      const at = `${path}/${key}`;
      if (DATA_KEYWORDS.has(key)) continue;
      if (key === '$ref' && typeof value === 'string' && !resolvePointer(schema, value)) {
        return `${where}: inputSchema ${at} "${value.slice(0, 200)}" does not resolve (only "#" pointers and anchors within the same schema do; nothing is fetched)`;
      }
      if (key === 'pattern' && typeof value === 'string') {
        const problem = regexProblem(value);
        if (problem) return `${where}: inputSchema ${at} is not a valid regular expression (${problem})`;
      }
      if (key === 'patternProperties' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        for (const source of Object.keys(value)) {
          const problem = regexProblem(source);
          if (problem) return `${where}: inputSchema ${at} key "${source.slice(0, 200)}" is not a valid regular expression (${problem})`;
        }
      }
      const problem = walk(value, at, depth + 1);
      if (problem) return problem;
    }
    return null;
  };
  return walk(schema, '#', 0);
}
