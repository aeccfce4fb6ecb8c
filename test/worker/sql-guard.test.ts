import { describe, expect, it } from 'vitest';
import { checkStatement, MAX_SQL_LENGTH } from '../../src/storage/sql-guard';

describe('tenant SQL statement guard', () => {
  it.each([
    ['SELECT 1', 'read'],
    ['  select * from t where a = ? ;  ', 'read'],
    ['VALUES (1), (2)', 'read'],
    ['WITH x AS (SELECT 1 AS a) SELECT a FROM x', 'read'],
    ["SELECT replace(name, 'a', 'b') FROM t", 'read'],
    ["SELECT 'DROP TABLE t; ATTACH' AS \"delete\"", 'read'],
    ['SELECT x\'00ff\' AS blob', 'read'],
    ['WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x', 'write'],
    ['WITH x(a) AS (VALUES (1)) DELETE FROM t WHERE a IN (SELECT a FROM x)', 'write'],
    ['INSERT INTO t VALUES (1)', 'write'],
    ['replace into t values (1)', 'write'],
    ['UPDATE t SET a = 1', 'write'],
    ['CREATE TABLE t (a)', 'write'],
    ['DROP TABLE t', 'write'],
    ['ALTER TABLE t ADD COLUMN b', 'write'],
  ] as const)('%s → %s', (sql, kind) => {
    expect(checkStatement(sql)).toMatchObject({ ok: true, kind });
  });

  it('hands SQLite the statement without the trailing semicolon or what follows it', () => {
    expect(checkStatement('SELECT 1; -- done')).toMatchObject({ ok: true, statement: 'SELECT 1' });
    expect(checkStatement("SELECT ';' /* ; */;")).toMatchObject({ ok: true, statement: "SELECT ';' /* ; */" });
  });

  it.each([
    ['SELECT 1; SELECT 2', /only one statement/],
    ['SELECT 1;;', /only one statement/],
    ["ATTACH 'x' AS y", /ATTACH/],
    ['select * from t, (select 1) attach', /ATTACH/],
    ['DETACH y', /DETACH/],
    ['PRAGMA foreign_keys = OFF', /PRAGMA/],
    ['VACUUM INTO \'/tmp/x\'', /VACUUM/],
    ['REINDEX', /REINDEX/],
    ['ANALYZE', /ANALYZE/],
    ['BEGIN', /BEGIN/],
    ['SAVEPOINT a', /SAVEPOINT/],
    ['SELECT * FROM _cf_KV', /_cf_/],
    ['SELECT * FROM `_cf_kv`', /_cf_/],
    ['WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c', /RECURSIVE/],
    ['EXPLAIN QUERY PLAN SELECT 1', /must start with/],
    ['WITH x AS (SELECT 1)', /must start with/],
    ['', /empty/],
    ['   -- only a comment', /empty/],
    ["SELECT 'open", /unterminated string/],
    ['SELECT "open', /unterminated quoted name/],
    ['SELECT 1 /* open', /unterminated/],
    ['x'.repeat(MAX_SQL_LENGTH + 1), /longer than/],
  ] as const)('refuses %s', (sql, reason) => {
    const verdict = checkStatement(sql);
    expect(verdict.ok).toBe(false);
    expect(verdict.ok ? '' : verdict.reason).toMatch(reason);
  });
});
