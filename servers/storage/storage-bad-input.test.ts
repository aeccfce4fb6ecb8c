import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from './storage-limits';
import { startSession, type TestSession } from '../../test/kit/server-test-kit';
import { waitForEvents } from '../../test/worker/audit-support';

/**
 * Bad input to the storage server: every case is a clear tool error (`isError`) or a JSON-RPC
 * error for arguments outside the schema, and afterwards nothing in the tenant's storage changed.
 */

let s: TestSession;
beforeAll(async () => {
  s = await startSession('storage');
});

async function expectToolError(name: string, args: Record<string, unknown>, message: RegExp): Promise<void> {
  const res = await s.callTool(name, args);
  expect(res.isError, `${name} ${JSON.stringify(args).slice(0, 80)}`).toBe(true);
  expect(s.text(res)).toMatch(message);
}

describe('storage server: bad input changes nothing', () => {
  it('refuses empty, overlong and control-character keys, and oversize values', async () => {
    const badKeys = ['', 'k'.repeat(LIMITS.keyBytes + 1), 'é'.repeat(LIMITS.keyBytes / 2 + 1), 'a\u0000b', 'line\nbreak'];
    for (const key of badKeys) {
      await expectToolError('kv_put', { key, value: 'v' }, /^Invalid key: /);
      await expectToolError('kv_get', { key }, /^Invalid key: /);
      await expectToolError('kv_delete', { key }, /^Invalid key: /);
    }
    await expectToolError(
      'kv_put',
      { key: 'big', value: 'x'.repeat(LIMITS.valueBytes + 1) },
      new RegExp(`^Value too large: ${LIMITS.valueBytes + 1} bytes, the limit is ${LIMITS.valueBytes} bytes`),
    );
    await expectToolError('kv_list', { prefix: 'p\u0007' }, /^Invalid prefix/);
    expect(s.json(await s.callTool('kv_list', {})).keys).toEqual([]);
    expect((await env.DATA_KV.list({ prefix: `tenant-${s.tenantId}:` })).keys).toEqual([]);
    // At the limit is fine.
    expect((await s.callTool('kv_put', { key: 'k'.repeat(LIMITS.keyBytes), value: 'x'.repeat(LIMITS.valueBytes) })).isError).toBeFalsy();
    await s.callTool('kv_delete', { key: 'k'.repeat(LIMITS.keyBytes) });
  });

  it('refuses traversal, absolute, empty-segment, backslash and overlong paths, oversize files and bad base64', async () => {
    const badPaths = ['', '../x', 'a/../../b', '/etc/passwd', 'a//b', './a', 'a/.', 'a\\b', 'a\u0000b', 'p'.repeat(LIMITS.pathBytes + 1)];
    for (const path of badPaths) {
      await expectToolError('files_put', { path, content: 'x' }, /^Invalid path: /);
      await expectToolError('files_get', { path }, /^Invalid path: /);
    }
    for (const dir of ['x', '../', '/abs/', 'a//']) await expectToolError('files_list', { dir }, /^Invalid dir: /);
    await expectToolError('files_put', { path: 'big.txt', content: 'x'.repeat(LIMITS.fileBytes + 1) }, /^File too large: /);
    await expectToolError('files_put', { path: 'big.bin', content: btoa('x'.repeat(LIMITS.fileBytes + 1)), encoding: 'base64' }, /^File too large: /);
    await expectToolError('files_put', { path: 'bad.bin', content: 'not base64!', encoding: 'base64' }, /^Invalid content: not valid base64/);
    await expectToolError('files_put', { path: 'a.txt', content: 'x', contentType: 'text/html\r\nx-evil: 1' }, /^Invalid contentType/);
    expect(s.json(await s.callTool('files_list', {})).files).toEqual([]);
    expect((await env.FILES.list({ prefix: `tenant-${s.tenantId}/` })).objects).toEqual([]);
  });

  it('answers arguments outside the schema with an error, not a crash', async () => {
    const res = await s.request('tools/call', { name: 'kv_put', arguments: { key: 'k' } }).catch((e) => e);
    // The SDK reports schema failures as a tool error result.
    expect(res.isError ?? res.code).toBeTruthy();
    const rows = await s.request('tools/call', { name: 'sql_query', arguments: { sql: 'SELECT 1', maxRows: 5000 } }).catch((e) => e);
    expect(rows.isError ?? rows.code).toBeTruthy();
  });
});

describe('storage server: SQL validation', () => {
  beforeAll(async () => {
    await s.callTool('sql_query', { sql: 'CREATE TABLE keep (v TEXT)' });
    await s.callTool('sql_query', { sql: "INSERT INTO keep VALUES ('safe')" });
  });

  it.each([
    ['SELECT 1; DROP TABLE keep', /only one statement/],
    ["INSERT INTO keep VALUES ('a'); INSERT INTO keep VALUES ('b')", /only one statement/],
    ["ATTACH DATABASE 'file:other.sqlite' AS other", /ATTACH is not allowed/],
    ["SELECT * FROM keep /* hide */ ; ATTACH DATABASE ':memory:' AS x", /only one statement/],
    ['DETACH DATABASE main', /DETACH is not allowed/],
    ['PRAGMA writable_schema = 1', /PRAGMA is not allowed/],
    ['PRAGMA table_info(keep)', /PRAGMA is not allowed/],
    ['VACUUM', /VACUUM is not allowed/],
    ['BEGIN TRANSACTION', /BEGIN is not allowed/],
    ['SELECT * FROM _cf_KV', /_cf_ belong to the platform/],
    ['SELECT * FROM "_cf_KV"', /_cf_ belong to the platform/],
    ['SELECT * FROM [_CF_METADATA]', /_cf_ belong to the platform/],
    ["SELECT * FROM '_cf_KV'", /_cf_ belong to the platform/],
    ['SELECT * FROM `_cf_kv`', /_cf_ belong to the platform/],
    ['SELECT * FROM main._cf_KV', /_cf_ belong to the platform/],
    ['SELECT name FROM sqlite_master', /sqlite_ belong to the platform or SQLite/],
    ["SELECT * FROM 'SQLITE_SCHEMA'", /sqlite_ belong to the platform or SQLite/],
    ['SELECT * FROM "sqlite_temp_master"', /sqlite_ belong to the platform or SQLite/],
    ['SELECT * FROM pragma_table_list', /pragma_ belong to the platform or SQLite/],
    ["SELECT * FROM pragma_table_info('keep')", /pragma_ belong to the platform or SQLite/],
    ['WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c', /WITH \(common table expressions\) is not allowed/],
    ["SELECT load_extension('x')", /LOAD_EXTENSION is not allowed/],
    ['EXPLAIN SELECT 1', /statement must start with/],
    ['', /SQL is empty/],
    ["SELECT 'unterminated", /unterminated string/],
    ['SELECT 1 /* unterminated', /unterminated/],
  ])('refuses %s', async (sql, message) => {
    await expectToolError('sql_query', { sql }, message);
    expect(s.json(await s.callTool('sql_query', { sql: 'SELECT v FROM keep' })).rows).toEqual([['safe']]);
  });

  it('does not mistake keywords inside strings, quoted names or comments for statements', async () => {
    const res = s.json(await s.callTool('sql_query', { sql: 'SELECT \'ATTACH; DROP TABLE keep\' AS "PRAGMA", v FROM keep -- ; VACUUM' }));
    expect(res.columns).toEqual(['PRAGMA', 'v']);
    expect(res.rows).toEqual([['ATTACH; DROP TABLE keep', 'safe']]);
  });

  it('reports SQLite errors as tool errors', async () => {
    await expectToolError('sql_query', { sql: 'SELECT * FROM no_such_table' }, /SQL error: .*no such table/);
    await expectToolError('sql_query', { sql: 'SELEC 1' }, /statement must start with/);
  });

  it('the tenant database object refuses a tenant other than its own, even if called directly', async () => {
    const stub = env.TENANT_DATABASE.get(env.TENANT_DATABASE.idFromName(s.tenantId));
    const foreign = await stub.query({ tenantId: 'someone-else', sql: 'SELECT v FROM keep', params: [], mode: 'read', maxRows: 10 });
    expect(foreign).toEqual({ ok: false, error: 'this database belongs to another tenant' });
    const own = await stub.query({ tenantId: s.tenantId, sql: 'SELECT v FROM keep', params: [], mode: 'read', maxRows: 10 });
    expect(own).toMatchObject({ ok: true, rows: [['safe']] });
    // Read mode is enforced by the object itself, not only by the tool.
    const write = await stub.query({ tenantId: s.tenantId, sql: "INSERT INTO keep VALUES ('x')", params: [], mode: 'read', maxRows: 10 });
    expect(write).toMatchObject({ ok: false });
  });
});

describe('storage server: refusals are audited, tenant data is not', () => {
  it('records refused calls as errors and denials, with values, content and SQL parameters redacted', async () => {
    const a = await startSession('storage');
    const reader = await startSession('storage', { tenant: a.tenantId, role: 'read-only' });
    await a.callTool('kv_put', { key: 'private', value: 'very secret value' });
    await a.callTool('files_put', { path: '../escape.txt', content: 'secret file body' });
    await reader.callTool('sql_query', { sql: 'DELETE FROM t WHERE v = ?', params: ['secret param'] });
    await reader.callTool('kv_put', { key: 'k', value: 'v' }).catch(() => undefined);
    const events = await waitForEvents(a.tenantId, 'action=tools/call', (e) => e.length >= 4);
    const byTool = (name: string) => events.filter((e: any) => e.resource === name);
    expect(byTool('files_put')[0]).toMatchObject({ result: 'error' });
    expect(byTool('sql_query')[0]).toMatchObject({ result: 'error' });
    expect(
      byTool('kv_put')
        .map((e: any) => e.result)
        .sort(),
    ).toEqual(['denied', 'ok']);
    const trail = JSON.stringify(events);
    for (const secret of ['very secret value', 'secret file body', 'secret param']) expect(trail).not.toContain(secret);
    expect(trail).toContain('../escape.txt');
  });
});
