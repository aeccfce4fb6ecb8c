import { describe, expect, it } from 'vitest';
import { checkStatement, MAX_SQL_LENGTH } from '../../src/storage/sql-guard';

describe('tenant SQL statement guard', () => {
  it.each([
    ['SELECT 1', 'read'],
    ['  select * from t where a = ? ;  ', 'read'],
    ['VALUES (1), (2)', 'read'],
    ["SELECT replace(name, 'a', 'b') FROM t", 'read'],
    ['SELECT \'DROP TABLE t; ATTACH\' AS "delete"', 'read'],
    ["SELECT x'00ff' AS blob", 'read'],
    ['SELECT \'with\' AS "with" -- WITH', 'read'],
    ['CREATE UNIQUE INDEX i ON t (a)', 'write'],
    ['CREATE INDEX IF NOT EXISTS i ON t (a)', 'write'],
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
    ["VACUUM INTO '/tmp/x'", /VACUUM/],
    ['REINDEX', /REINDEX/],
    ['ANALYZE', /ANALYZE/],
    ['BEGIN', /BEGIN/],
    ['SAVEPOINT a', /SAVEPOINT/],
    ['SELECT * FROM _cf_KV', /_cf_/],
    ['SELECT * FROM `_cf_kv`', /_cf_/],
    ['WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c', /WITH/],
    // A CTE loops without the word RECURSIVE too (the finding): every CTE is refused, wherever it sits.
    ['WITH c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<100000000) SELECT count(*) FROM c', /WITH \(common table expressions\)/],
    ['with/**/c(x) as (select 1 union all select x+1 from c) select count(*) from c', /WITH/],
    ['SELECT * FROM (WITH c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c)', /WITH/],
    ['INSERT INTO t WITH c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c', /WITH/],
    ['SELECT (WITH c(x) AS (VALUES (1)) SELECT x FROM c)', /WITH/],
    ['CREATE VIEW v AS SELECT 1', /tables and indexes only \(not VIEW\)/],
    ['CREATE TEMP TABLE x (a)', /tables and indexes only \(not TEMP\)/],
    ['CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM t; END', /only one statement|BEGIN|tables and indexes only/],
    ['CREATE VIRTUAL TABLE f USING fts5(a)', /tables and indexes only \(not VIRTUAL\)/],
    ["SELECT * FROM '_cf_KV'", /_cf_/],
    ['SELECT * FROM "_cf_KV"', /_cf_/],
    ['SELECT * FROM [_cf_KV]', /_cf_/],
    ['SELECT * FROM main._CF_kv', /_cf_/],
    ['SELECT * FROM sqlite_master', /sqlite_/],
    ["SELECT * FROM 'sqlite_schema'", /sqlite_/],
    ['SELECT * FROM `SQLITE_SEQUENCE`', /sqlite_/],
    ['SELECT * FROM [sqlite_temp_master]', /sqlite_/],
    ['SELECT * FROM pragma_table_list', /pragma_/],
    ['SELECT sqlite_version()', /sqlite_/],
    ['EXPLAIN QUERY PLAN SELECT 1', /must start with/],
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
