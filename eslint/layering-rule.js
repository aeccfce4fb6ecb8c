// @ts-check
/**
 * `smcp/layering`: the import rules of the project's layout (docs/architecture.md), one place.
 *
 * - `src/observability/` is a leaf: its modules import only each other and packages, so logging,
 *   request context and build info can be used from anywhere without pulling the platform in.
 * - `servers/` (hosted MCP servers) import from the platform only its author API, the allowlist
 *   below; anything else in `src/` is internal. Server tests may also use the test kit.
 *
 * Paths are compared without extension, relative to the repository root.
 */
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The platform modules a hosted server may import: the author API (`author-api` is the 2026-era
 * entry point; the others are what the 2025-era servers import today). Adding one is an API decision.
 */
export const AUTHOR_API = [
  'src/hosted/author-api',
  'src/hosted/hosted-mcp-agent',
  'src/hosted/principal',
  'src/hosted/request-audit',
  'src/hosted/tool-policy',
  'src/storage/sql-cost',
  'src/storage/sql-guard',
  'src/storage/tenant-database',
];

/** What a server's own tests may import besides the author API. */
const SERVER_TEST_SUPPORT = ['test/kit/', 'test/worker/audit-support'];

/** Known edges out of `src/observability/`, each with its reason; the rule fails on any other. None today. */
/** @type {Record<string, string[]>} */
const OBSERVABILITY_EXCEPTIONS = {};

/** @param {string} file */
const fromRoot = (file) =>
  relative(ROOT, file)
    .split('\\')
    .join('/')
    .replace(/\.(ts|js|mjs)$/, '');

/** @type {import('eslint').Rule.RuleModule} */
export const layering = {
  meta: {
    type: 'problem',
    docs: { description: 'keep src/observability a leaf and servers/ on the author API' },
    schema: [],
    messages: {
      observability: 'src/observability/ is a leaf: {{from}} may not import {{target}} (docs/architecture.md)',
      servers: 'servers/ import only the author API from the platform: {{from}} may not import {{target}} (allowed: eslint/layering-rule.js AUTHOR_API)',
    },
  },
  create(context) {
    const from = fromRoot(context.filename);
    const inObservability = from.startsWith('src/observability/');
    const inServers = from.startsWith('servers/');
    if (!inObservability && !inServers) return {};
    /** @param {import('estree').Node} node @param {unknown} source */
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return; // packages and node: builtins
      const target = fromRoot(resolve(dirname(context.filename), source));
      if (inObservability) {
        const allowed = target.startsWith('src/observability/') || (OBSERVABILITY_EXCEPTIONS[from] ?? []).includes(target);
        if (!allowed) context.report({ node, messageId: 'observability', data: { from, target } });
      } else {
        const isTest = /\.test$/.test(from);
        const allowed =
          target.startsWith('servers/') || AUTHOR_API.includes(target) || (isTest && SERVER_TEST_SUPPORT.some((p) => target === p || target.startsWith(p)));
        if (!allowed) context.report({ node, messageId: 'servers', data: { from, target } });
      }
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};
