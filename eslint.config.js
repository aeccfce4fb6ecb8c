// @ts-check
/**
 * ESLint (flat config): typescript-eslint's recommended rules, import cycles refused
 * (eslint-plugin-import-x `no-cycle`), and the project's layering (eslint/layering-rule.js:
 * `src/observability/` a leaf, `servers/` on the author API only). `npm run lint`, part of `npm test`.
 * Formatting is Prettier's job (`npm run format:check`), not ESLint's.
 */
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import { layering } from './eslint/layering-rule.js';

export default tseslint.config(
  { ignores: ['node_modules/', '.wrangler/', 'dist/', 'coverage/', 'results/', 'bench/.generated/', 'worker-configuration.d.ts', 'src/dashboard/assets/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    plugins: { 'import-x': importX, smcp: { rules: { layering } } },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.d.ts'] })],
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'smcp/layering': 'error',
      // Input validation matches control characters on purpose (keys, file names, SQL).
      'no-control-regex': 'off',
      // `this.sql\`…\`` (Durable Object SQL) is a tagged template called for its effect.
      '@typescript-eslint/no-unused-expressions': ['error', { allowTaggedTemplates: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Tests read arbitrary JSON-RPC and REST bodies and assert on their shape; `any` there is the honest type.
    files: ['test/**', '**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', 'no-regex-spaces': 'off' },
  },
);
