import { SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { startSession, type TestSession } from '../kit/server-test-kit';
import { checkCost, MAX_ROW_VISITS, type SchemaView } from '../../src/storage/sql-cost';
import { checkStatement } from '../../src/storage/sql-guard';
import { maskSqlLiterals } from '../../src/storage/sql-tokens';
import { waitForEvents } from './audit-support';

/**
 * Finding 4 of the security review: a self-referencing CTE (no RECURSIVE needed) ran 15 s inside
 * the shared runtime and stalled `/health` for everyone. SQLite cannot be interrupted inside a
 * Durable Object, so the class is closed before a statement runs: what loops is refused by the
 * guard, and what multiplies (joins, VALUES, json_each) is bounded by `sql-cost.ts` against the
 * real row counts. Every attack below must end as a clear tool error, while `/health` and another
 * tenant's calls are answered alongside.
 */

const CTE_ATTACK = 'WITH c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<100000000) SELECT count(*) FROM c';
const TEN = '(VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10))';
/** Three thousand functions over every stored value: seconds of work once `fat` holds 2 MB. */
const FAT_ATTACK =
  'SELECT ' +
  Array(100)
    .fill('max(' + Array(30).fill('upper(v)').join(',') + ')')
    .join(', ') +
  ' FROM fat';

let owner: TestSession;
let reader: TestSession;
let other: TestSession;

beforeAll(async () => {
  owner = await startSession('storage', { role: 'member' });
  reader = await startSession('storage', { tenant: owner.tenantId, role: 'read-only' });
  other = await startSession('storage', { role: 'member' });
  // 2,000 rows: one scan is fine, any self-join (4,000,000 combinations) is over the bound.
  await owner.callTool('sql_query', { sql: 'CREATE TABLE big (x INTEGER PRIMARY KEY, v TEXT)' });
  const keys = JSON.stringify([...Array(2000).keys()]);
  expect(
    owner.json(await owner.callTool('sql_query', { sql: "INSERT INTO big SELECT value, 'v' || value FROM json_each(?)", params: [keys] })).rowsWritten,
  ).toBe(2000);
  await owner.callTool('sql_query', { sql: 'CREATE TABLE small (x INTEGER PRIMARY KEY)' });
  await owner.callTool('sql_query', { sql: 'INSERT INTO small SELECT value FROM json_each(?)', params: [JSON.stringify([...Array(500).keys()])] });
  // 20 values of 100 KB (2 MB): thousands of functions over them would be seconds of work.
  await owner.callTool('sql_query', { sql: 'CREATE TABLE fat (v TEXT)' });
  // While empty, the same statement is cheap and allowed; the counts it took must not outlive the inserts.
  expect((await owner.callTool('sql_query', { sql: FAT_ATTACK })).isError).toBeFalsy();
  for (let i = 0; i < 20; i++) await owner.callTool('sql_query', { sql: 'INSERT INTO fat VALUES (?)', params: ['f'.repeat(100_000)] });
  await other.callTool('sql_query', { sql: 'CREATE TABLE mine (v TEXT)' });
  await other.callTool('sql_query', { sql: "INSERT INTO mine VALUES ('other tenant row')" });
});

/** Statements that would run for seconds to hours, and the refusal each must get. */
const ATTACKS: Array<[string, RegExp]> = [
  [CTE_ATTACK, /WITH \(common table expressions\) is not allowed/],
  ['with "c"(x) as (select 1 union all select x+1 from [c]) select count(*) from c', /WITH/],
  [`SELECT * FROM (WITH c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c)`, /WITH/],
  [`SELECT count(*) FROM ${TEN} a, ${TEN} b, ${TEN} c, ${TEN} d, ${TEN} e, ${TEN} f, ${TEN} g, ${TEN} h`, /row combinations/],
  ["SELECT length(zeroblob(1000000000)), length(printf('%.*c', 1000000000, 'x'))", /zeroblob\(\) is limited/],
  ['SELECT ' + Array(40).fill("max(length(replace(hex(zeroblob(2000000)),'0','00')), 1)").join(', '), /zeroblob\(\) is limited/],
  ['SELECT count(*) FROM big a, big b', /row combinations \(big: 2000 × big: 2000\)/],
  ['SELECT count(*) FROM \'big\' a CROSS JOIN "BIG" b', /row combinations/],
  ['SELECT count(*) FROM big a JOIN big b ON a.v <> b.v', /row combinations/],
  ['SELECT (SELECT count(*) FROM big b WHERE b.x > a.x) FROM big a', /row combinations/],
  ['SELECT count(*) FROM big WHERE x IN (SELECT a.x FROM big a, small b)', /row combinations/],
  ['SELECT count(*) FROM json_each(json_array(1,2,3)) a, json_each(json_array(1,2,3)) b, big', /row combinations/],
  ["SELECT count(*) FROM json_each(replace(hex(zeroblob(4000000)), '00', '1,')) a, big", /zeroblob\(\) is limited/],
  ['SELECT count(*) FROM json_each((SELECT json_group_array(x) FROM big)) a, big', /row combinations/],
  ['SELECT count(*) FROM sqlite_master a, sqlite_master b', /sqlite_ belong/],
];

describe('unbounded SQL: the attack and its variants end as clear refusals', () => {
  it.each(ATTACKS)('refuses %s', async (sql, reason) => {
    for (const caller of [reader, owner]) {
      const res = await caller.callTool('sql_query', { sql });
      expect(res.isError, sql).toBe(true);
      expect(caller.text(res)).toMatch(reason);
    }
  });

  it('refuses value generators and amplifiers before they run: one call, or a thousand of them', async () => {
    const heavy = "length(replace(hex(zeroblob(2000000)),'0','00'))";
    const doubling = (levels: number) => {
      let inner = "SELECT 'abcdefgh' AS x";
      for (let i = 0; i < levels; i++) inner = `SELECT x || x AS x FROM (${inner})`;
      return `SELECT length(x) FROM (${inner})`;
    };
    const cases: Array<[string, RegExp, unknown[]?]> = [
      ['SELECT length(zeroblob(1000000000))', /zeroblob\(\) is limited/],
      ['SELECT length(randomblob(1000000000))', /randomblob\(\) is limited/],
      ['SELECT length(zeroblob(?))', /zeroblob\(\) is limited/, [100_000_000]],
      ['SELECT length("zeroblob"(5000000))', /zeroblob\(\) is limited/],
      ["SELECT length(printf('%.*c', 1000000000, 'x')) AS n", /printf\(\) needs a literal format/],
      ["SELECT length(printf('%1000000c', 'x'))", /printf\(\) needs a literal format/],
      ['SELECT printf(?, 1)', /printf\(\) needs a literal format/, ['%.*c']],
      ["SELECT length(replace(hex(randomblob(1000)), '0', '" + 'x'.repeat(100) + "'))", /replace\(\) may not replace/],
      ['SELECT length(replace(v, ?, ?)) FROM big', /replace\(\) may not replace/, ['v', 'y'.repeat(1000)]],
      ['SELECT length(replace(v, v, v || v)) FROM big', /replace\(\) needs a literal/],
      [
        'SELECT ' +
          Array(50)
            .fill('max(' + Array(20).fill(heavy).join(',') + ')')
            .join(', '),
        /zeroblob\(\) is limited/,
      ],
      [doubling(26), /may process up to/],
      [FAT_ATTACK, /may process up to/],
      ['SELECT count(*) FROM fat WHERE ' + Array(400).fill("upper(v) LIKE '%zz%'").join(' OR '), /may process up to/],
      ['SELECT sqlite_compileoption_get(0)', /sqlite_ belong/],
      ['SELECT unknown_function(1)', /function unknown_function\(\) is not available/],
      ['SELECT "load_extension"(1)', /LOAD_EXTENSION|not available/],
    ];
    for (const [sql, reason, params] of cases) {
      const res = await reader.callTool('sql_query', { sql, params: params ?? [] });
      expect(res.isError, sql.slice(0, 120)).toBe(true);
      expect(reader.text(res), sql.slice(0, 120)).toMatch(reason);
    }
    // Small generators and flat concatenation stay available.
    expect(reader.json(await reader.callTool('sql_query', { sql: 'SELECT length(hex(randomblob(16))) AS n' })).rows).toEqual([[32]]);
    expect(reader.json(await reader.callTool('sql_query', { sql: doubling(3) })).rows).toEqual([[64]]);
    const label = await reader.callTool('sql_query', {
      sql: "SELECT printf('%d rows', count(*)) || ' in ' || 'the table', replace(v, 'v', 'w') FROM big WHERE x = 7",
    });
    expect(reader.json(label).rows).toEqual([['1 rows in the table', 'w7']]);
  });

  it('/health and another tenant stay answered while every attack is sent at once', async () => {
    const HUNG = Symbol('hung');
    const hung = new Promise<typeof HUNG>((resolve) => setTimeout(() => resolve(HUNG), 45_000));
    const attacks = ATTACKS.map(([sql]) => reader.callTool('sql_query', { sql }));
    const health = Promise.all([1, 2, 3].map(() => SELF.fetch('http://localhost:8787/health').then((r) => r.status)));
    const neighbour = other.callTool('sql_query', { sql: 'SELECT v FROM mine' });
    const outcome = await Promise.race([Promise.all([Promise.all(attacks), health, neighbour]), hung]);
    expect(outcome, 'a request hung').not.toBe(HUNG);
    const [attackResults, statuses, mine] = outcome as Exclude<typeof outcome, typeof HUNG>;
    expect(attackResults.every((r) => r.isError === true)).toBe(true);
    expect(statuses).toEqual([200, 200, 200]);
    expect(other.json(mine).rows).toEqual([['other tenant row']]);
  });

  it('keeps bounded work working: one big scan, joins within the bound, json_each of a parameter', async () => {
    expect(reader.json(await reader.callTool('sql_query', { sql: 'SELECT count(*) FROM big' })).rows).toEqual([[2000]]);
    const join = await reader.callTool('sql_query', { sql: 'SELECT count(*) FROM big JOIN small ON big.x = small.x' });
    expect(reader.json(join).rows).toEqual([[500]]);
    const values = await reader.callTool('sql_query', { sql: `SELECT count(*) FROM ${TEN} a, ${TEN} b, ${TEN} c` });
    expect(reader.json(values).rows).toEqual([[1000]]);
    const json = await reader.callTool('sql_query', { sql: 'SELECT count(*) FROM json_each(?) a, small', params: ['[1,2,3]'] });
    expect(reader.json(json).rows).toEqual([[1500]]);
    expect(owner.json(await owner.callTool('sql_query', { sql: "INSERT INTO big (v) VALUES ('a'), ('b')" })).rowsWritten).toBe(2);
  });

  it('refuses what could loop later: views and triggers cannot be created', async () => {
    for (const sql of [
      'CREATE VIEW v AS SELECT * FROM big a, big b',
      'CREATE TRIGGER t AFTER INSERT ON small BEGIN INSERT INTO small SELECT x + 1000 FROM small; END',
    ]) {
      const res = await owner.callTool('sql_query', { sql });
      expect(res.isError, sql).toBe(true);
    }
  });
});

describe('the cost bound (unit)', () => {
  const schema = (tables: Record<string, number>, views: string[] = [], refs: Record<string, string[]> = {}): SchemaView => ({
    kind: (name) => (name in tables ? 'table' : views.includes(name) ? 'view' : undefined),
    rows: (name) => tables[name] ?? 0,
    bytes: (name) => (tables[name] ?? 0) * 20,
    databaseBytes: () => Object.values(tables).reduce((a, b) => a + b * 20, 0),
    referencing: (name) => refs[name] ?? [],
  });
  const cost = (sql: string, s: SchemaView, params: unknown[] = []) => {
    const v = checkStatement(sql);
    if (!v.ok) throw new Error(v.reason);
    try {
      return checkCost(v.tokens, v.verb, v.kind, s, params);
    } catch (error) {
      return { ok: false as const, reason: (error as Error).message };
    }
  };

  it.each([
    ['SELECT * FROM t', true],
    ['SELECT * FROM t a, t b', false],
    ['SELECT * FROM main.t a, [T] b', false],
    ['SELECT * FROM t WHERE x IN (SELECT x FROM u)', false],
    ['SELECT * FROM t, small', true],
    ['SELECT t.x, small.x FROM t JOIN small ON t.x = small.x', true],
    ['SELECT * FROM main.t JOIN main.u ON t.x = u.x', false],
    ['INSERT INTO t SELECT * FROM t', true],
    ['INSERT INTO t SELECT * FROM t, u', false],
    ['INSERT INTO t VALUES (1), (2), (3)', true],
    ['INSERT INTO main.t VALUES (1), (2), (3)', true],
    ['DELETE FROM parent', false],
    ['UPDATE small SET x = x + 1', true],
    ['SELECT * FROM v', false],
    ['SELECT * FROM json_each(?) a, t', false],
  ] as const)('%s → within bound: %s', (sql, within) => {
    const s = schema({ t: 100_000, u: 100_000, small: 10, parent: 5000, child: 5000 }, ['v'], { parent: ['child'] });
    expect(cost(sql, s, ['[' + '1,'.repeat(1000) + '1]']).ok).toBe(within);
  });

  it('names the bound in the refusal', () => {
    const verdict = cost('SELECT * FROM t a, t b', schema({ t: 10_000 }));
    expect(verdict).toMatchObject({ ok: false });
    expect(!verdict.ok && verdict.reason).toContain(String(MAX_ROW_VISITS));
  });
});

describe('finding 16: the audit trail keeps the shape of SQL, not its literals', () => {
  it.each([
    ["SELECT * FROM t WHERE token = 'sk-live-123' AND n = 42", 'SELECT * FROM t WHERE token = ? AND n = ?'],
    ["INSERT INTO t VALUES (x'deadbeef', \"dq-secret\", -1.5e3) -- 'comment secret'", 'INSERT INTO t VALUES (?, ?, -?)'],
    ["SELECT [col], `c2` FROM t WHERE a = 'it''s'", 'SELECT [col], `c2` FROM t WHERE a = ?'],
    ["SELECT 'unterminated", '[unparsable SQL]'],
  ])('%s → %s', (sql, masked) => {
    expect(maskSqlLiterals(sql).replace(/\s+/g, ' ')).toBe(masked.replace(/\s+/g, ' '));
  });

  it('stores sql_query calls with literals masked, through the platform', async () => {
    const s = await startSession('storage');
    await s.callTool('sql_query', { sql: 'CREATE TABLE creds (token TEXT)' });
    await s.callTool('sql_query', { sql: "INSERT INTO creds VALUES ('sk-live-very-secret-literal')" });
    await s.callTool('sql_query', { sql: 'SELECT * FROM creds WHERE token = "dq-very-secret-literal" AND 1 = 1' });
    const events = await waitForEvents(s.tenantId, 'action=tools/call', (e) => e.filter((x: any) => x.resource === 'sql_query').length >= 3);
    const trail = JSON.stringify(events);
    expect(trail).not.toContain('very-secret-literal');
    const sqls = events.filter((e: any) => e.resource === 'sql_query').map((e: any) => e.details.arguments.sql);
    expect(sqls).toContain('INSERT INTO creds VALUES (?)');
  });
});
