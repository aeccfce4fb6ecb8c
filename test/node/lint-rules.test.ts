import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/lib/local-platform.ts';

/**
 * The house rules `npm run lint` enforces (eslint.config.js, eslint/layering-rule.js) catch what
 * they claim to: an import cycle, `src/observability/` importing the rest of the platform, and a
 * hosted server importing platform internals instead of the author API.
 */

const eslint = new ESLint({ cwd: ROOT });
const rulesHit = async (code: string, file: string) =>
  (await eslint.lintText(code, { filePath: join(ROOT, file) }))[0]!.messages.map((m) => `${m.ruleId}: ${m.message}`);

describe('lint: layering and cycles', () => {
  it('servers/ may import the author API but not platform internals', async () => {
    expect(
      await rulesHit(
        "import { HostedMcpAgent } from '../../src/hosted/hosted-mcp-agent';\nexport class X extends HostedMcpAgent {}\n",
        'servers/demo/demo.server.ts',
      ),
    ).toEqual([]);
    for (const internal of ['../../src/gate/mcp-gate', '../../src/tenancy/tenant-store', '../../src/audit/record', '../../test/kit/server-test-kit']) {
      const hits = await rulesHit(`import * as m from '${internal}';\nexport const x = m;\n`, 'servers/demo/demo-tools.ts');
      expect(hits, internal).toEqual([expect.stringMatching(/^smcp\/layering: servers\/ import only the author API/)]);
    }
    // A server's own tests may use the test kit, still not internals.
    expect(await rulesHit("import * as kit from '../../test/kit/server-test-kit';\nexport const k = kit;\n", 'servers/demo/demo.test.ts')).toEqual([]);
    expect(await rulesHit("export { gateMcpRequest } from '../../src/gate/mcp-gate';\n", 'servers/demo/demo.test.ts')).toHaveLength(1);
    expect(await rulesHit("export const load = () => import('../../src/crypto/secrets');\n", 'servers/demo/demo-tools.ts')).toHaveLength(1);
  });

  it('src/observability/ is a leaf', async () => {
    expect(await rulesHit("import { requestContext } from './request-context';\nexport const c = requestContext;\n", 'src/observability/new-thing.ts')).toEqual(
      [],
    );
    for (const other of ['../http/responses', '../../servers/registry', '../audit/record']) {
      const hits = await rulesHit(`import * as m from '${other}';\nexport const x = m;\n`, 'src/observability/new-thing.ts');
      expect(hits, other).toEqual([expect.stringMatching(/^smcp\/layering: src\/observability\/ is a leaf/)]);
    }
  });

  const fixture = join(ROOT, 'test', `.lint-cycle-${process.pid}`);
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));
  it('refuses an import cycle', async () => {
    mkdirSync(fixture, { recursive: true });
    writeFileSync(join(fixture, 'a.ts'), "import { b } from './b';\nexport const a = (): unknown => b;\n");
    writeFileSync(join(fixture, 'b.ts'), "import { a } from './a';\nexport const b = (): unknown => a;\n");
    const results = await eslint.lintFiles([join(fixture, 'a.ts')]);
    expect(results[0]!.messages.map((m) => m.ruleId)).toContain('import-x/no-cycle');
  });
});
