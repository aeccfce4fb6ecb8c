import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { newTenant, startSession, type TestSession } from '../../test/kit/server-test-kit';

/**
 * The storage server through the whole platform, with two tenants: each one's KV, files and SQL
 * database are its own, and read-only callers see and run only reads.
 */

let acme: TestSession;
let globex: TestSession;

beforeAll(async () => {
  acme = await startSession('storage', { role: 'member' });
  globex = await startSession('storage', { role: 'member' });
});

describe('storage server: key-value', () => {
  it('puts, gets, lists and deletes values under tenant-<id>:kv:', async () => {
    expect(acme.json(await acme.callTool('kv_put', { key: 'colour', value: 'blue' }))).toEqual({ key: 'colour', bytes: 4 });
    await acme.callTool('kv_put', { key: 'count', value: '3' });
    await acme.callTool('kv_put', { key: 'other', value: 'x' });
    expect(acme.json(await acme.callTool('kv_get', { key: 'colour' }))).toEqual({ key: 'colour', value: 'blue' });
    expect(await env.DATA_KV.get(`tenant-${acme.tenantId}:kv:colour`)).toBe('blue');
    expect(acme.json(await acme.callTool('kv_list', { prefix: 'co' })).keys).toEqual(['colour', 'count']);
    expect(acme.json(await acme.callTool('kv_delete', { key: 'count' }))).toEqual({ key: 'count', deleted: true });
    expect(acme.json(await acme.callTool('kv_delete', { key: 'count' }))).toEqual({ key: 'count', deleted: false });
    const missing = await acme.callTool('kv_get', { key: 'count' });
    expect(missing.isError).toBe(true);
    expect(acme.text(missing)).toBe('No value for key "count"');
  });

  it('keeps tenants apart: the same key names different values, lists and deletes never cross', async () => {
    await acme.callTool('kv_put', { key: 'shared-name', value: 'acme' });
    await globex.callTool('kv_put', { key: 'shared-name', value: 'globex' });
    expect(globex.json(await globex.callTool('kv_get', { key: 'shared-name' })).value).toBe('globex');
    expect(globex.json(await globex.callTool('kv_list', {})).keys).toEqual(['shared-name']);
    expect((await globex.callTool('kv_get', { key: 'colour' })).isError).toBe(true);
    // A key that spells out the other tenant's full KV key is just a (long) key of one's own.
    const forged = await globex.callTool('kv_get', { key: `../tenant-${acme.tenantId}:kv:colour` });
    expect(forged.isError).toBe(true);
    await globex.callTool('kv_delete', { key: 'shared-name' });
    expect(acme.json(await acme.callTool('kv_get', { key: 'shared-name' })).value).toBe('acme');
  });
});

describe('storage server: files', () => {
  it('writes, lists and reads files under tenant-<id>/, text and base64', async () => {
    expect(acme.json(await acme.callTool('files_put', { path: 'reports/q1.txt', content: 'acme q1' }))).toEqual({ path: 'reports/q1.txt', size: 7 });
    await acme.callTool('files_put', { path: 'bin/blob', content: btoa('\u0000\u00ff\u0001'), encoding: 'base64' });
    expect(await (await env.FILES.get(`tenant-${acme.tenantId}/reports/q1.txt`))!.text()).toBe('acme q1');
    const listed = acme.json(await acme.callTool('files_list', { dir: 'reports/' }));
    expect(listed.files.map((f: { path: string }) => f.path)).toEqual(['reports/q1.txt']);
    expect(listed.files[0].size).toBe(7);
    expect(acme.text(await acme.callTool('files_get', { path: 'reports/q1.txt' }))).toBe('acme q1');
    const blob = await acme.callTool('files_get', { path: 'bin/blob', encoding: 'base64' });
    expect((blob.content[0] as any).resource.blob).toBe(btoa('\u0000\u00ff\u0001'));
    const notText = await acme.callTool('files_get', { path: 'bin/blob' });
    expect(notText.isError).toBe(true);
    expect(acme.text(notText)).toContain('not UTF-8');
  });

  it('keeps tenants apart: another tenant sees none of the files and cannot reach them by path', async () => {
    await acme.callTool('files_put', { path: 'secret.txt', content: 'acme only' });
    expect(globex.json(await globex.callTool('files_list', {})).files).toEqual([]);
    expect((await globex.callTool('files_get', { path: 'secret.txt' })).isError).toBe(true);
    for (const path of [`../tenant-${acme.tenantId}/secret.txt`, `/tenant-${acme.tenantId}/secret.txt`, `x/../../tenant-${acme.tenantId}/secret.txt`]) {
      const res = await globex.callTool('files_get', { path });
      expect(res.isError, path).toBe(true);
      expect(globex.text(res)).toMatch(/^Invalid path/);
    }
  });
});

describe('storage server: SQL', () => {
  it('creates, writes and queries the tenant database, with parameters', async () => {
    await acme.callTool('sql_query', { sql: 'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)' });
    const inserted = acme.json(await acme.callTool('sql_query', { sql: 'INSERT INTO items (name) VALUES (?), (?)', params: ['apple', 'pear'] }));
    expect(inserted.rowsWritten).toBeGreaterThanOrEqual(2);
    const rows = acme.json(
      await acme.callTool('sql_query', { sql: "SELECT id, name FROM items WHERE name LIKE ? ORDER BY id; -- trailing ';' is fine", params: ['%a%'] }),
    );
    expect(rows.columns).toEqual(['id', 'name']);
    expect(rows.rows).toEqual([
      [1, 'apple'],
      [2, 'pear'],
    ]);
  });

  it('gives each tenant its own database: the other tenant has no such table', async () => {
    await acme.callTool('sql_query', { sql: "CREATE TABLE IF NOT EXISTS private_notes (body TEXT); INSERT INTO private_notes VALUES ('x')".split(';')[0]! });
    await acme.callTool('sql_query', { sql: "INSERT INTO private_notes VALUES ('acme secret')" });
    const res = await globex.callTool('sql_query', { sql: 'SELECT body FROM private_notes' });
    expect(res.isError).toBe(true);
    expect(globex.text(res)).toContain('no such table');
    await globex.callTool('sql_query', { sql: 'CREATE TABLE private_notes (body TEXT)' });
    expect(globex.json(await globex.callTool('sql_query', { sql: 'SELECT count(*) FROM private_notes' })).rows).toEqual([[0]]);
  });

  it('limits rows to 1000 by default and to maxRows when asked', async () => {
    const s = await startSession('storage');
    await s.callTool('sql_query', { sql: 'CREATE TABLE n (i INTEGER)' });
    await s.callTool('sql_query', {
      sql: 'INSERT INTO n SELECT a.value * 100 + b.value FROM json_each(?) a, json_each(?) b',
      params: [JSON.stringify([...Array(20).keys()]), JSON.stringify([...Array(100).keys()])],
    });
    const all = s.json(await s.callTool('sql_query', { sql: 'SELECT i FROM n ORDER BY i' }));
    expect(all.rowCount).toBe(1000);
    expect(all.truncated).toBe(true);
    const few = s.json(await s.callTool('sql_query', { sql: 'SELECT i FROM n ORDER BY i', maxRows: 3 }));
    expect(few.rows).toEqual([[0], [1], [2]]);
    expect(few.truncated).toBe(true);
    const count = s.json(await s.callTool('sql_query', { sql: 'SELECT count(*) AS c FROM n' }));
    expect(count.rows).toEqual([[2000]]);
    expect(count.truncated).toBe(false);
  });
});

describe('storage server: roles', () => {
  it('shows read-only callers only the read tools, and lets them read but not write', async () => {
    const tenant = await newTenant(['storage']);
    const writer = await startSession('storage', { tenant, role: 'member' });
    const reader = await startSession('storage', { tenant, role: 'read-only', auth: 'oauth' });
    expect((await writer.listTools()).sort()).toEqual(['files_get', 'files_list', 'files_put', 'kv_delete', 'kv_get', 'kv_list', 'kv_put', 'sql_query']);
    expect((await reader.listTools()).sort()).toEqual(['files_get', 'files_list', 'kv_get', 'kv_list', 'sql_query']);
    await writer.callTool('kv_put', { key: 'k', value: 'v' });
    await writer.callTool('sql_query', { sql: 'CREATE TABLE t (v TEXT)' });
    await writer.callTool('sql_query', { sql: "INSERT INTO t VALUES ('one')" });
    expect(reader.json(await reader.callTool('kv_get', { key: 'k' })).value).toBe('v');
    expect(reader.json(await reader.callTool('sql_query', { sql: 'SELECT v FROM t' })).rows).toEqual([['one']]);
    await expect(reader.callTool('kv_put', { key: 'k', value: 'changed' })).rejects.toMatchObject({ code: -32003 });
    await expect(reader.callTool('files_put', { path: 'a.txt', content: 'x' })).rejects.toMatchObject({ code: -32003 });
    await expect(reader.callTool('kv_delete', { key: 'k' })).rejects.toMatchObject({ code: -32003 });
    for (const sql of [
      "INSERT INTO t VALUES ('two')",
      'DELETE FROM t',
      'DROP TABLE t',
      "REPLACE INTO t VALUES ('changed')",
      "UPDATE t SET v = 'changed'",
      'CREATE TABLE u (x)',
    ]) {
      const res = await reader.callTool('sql_query', { sql });
      expect(res.isError, sql).toBe(true);
      expect(reader.text(res), sql).toMatch(/may only run statements that read/);
    }
    expect(writer.json(await writer.callTool('sql_query', { sql: 'SELECT v FROM t' })).rows).toEqual([['one']]);
    expect(writer.json(await writer.callTool('kv_get', { key: 'k' })).value).toBe('v');
  });
});
