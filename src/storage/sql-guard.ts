import { SqlSyntaxError, tokenize, type SqlToken } from './sql-tokens';

/**
 * Statement validation for tenant SQL (the `storage` server's `sql_query`). SQLite itself (and the
 * Durable Object's authorizer) is the last line; this guard is the first: it reads the text with
 * the tokenizer SQLite's own lexing rules are copied into (`sql-tokens.ts`), so a keyword hidden
 * in a string or a comment neither hides a statement nor triggers a false refusal, and it answers
 * with a reason a person can act on.
 *
 * Rules (an allowlist): exactly one statement; the verb must be a read (`SELECT`, `VALUES`) or a
 * data/schema write (`INSERT`, `UPDATE`, `DELETE`, `REPLACE`, `CREATE TABLE`, `CREATE [UNIQUE]
 * INDEX`, `DROP`, `ALTER`). Refused wherever they appear: `WITH` (a common table expression may
 * refer to itself and loop without end, with or without the word RECURSIVE, and SQLite cannot be
 * interrupted mid-statement inside a Durable Object: a subquery in FROM does the same job),
 * `ATTACH`, `DETACH`, `PRAGMA`, `VACUUM`, transactions and the like; views, triggers, virtual
 * and temporary tables (code that runs later, or storage outside the database's size cap); and any
 * name, quoted or not, string-quoted included (SQLite accepts `FROM '_cf_KV'`), starting with
 * `_cf_` (the Durable Object's own tables), `sqlite_` (SQLite's schema tables and functions) or
 * `pragma_` (pragma table functions). What a statement that passes may cost is bounded by
 * `sql-cost.ts` against the actual database.
 */

export const MAX_SQL_LENGTH = 100_000;

export type StatementKind = 'read' | 'write';

/** `statement` is the text to run: the input without a trailing `;` (and anything after it but comments). */
export type SqlVerdict = { ok: true; kind: StatementKind; verb: string; statement: string; tokens: SqlToken[] } | { ok: false; reason: string };

const READ_VERBS = new Set(['SELECT', 'VALUES']);
const WRITE_VERBS = new Set(['INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'CREATE', 'DROP', 'ALTER']);
/** Refused anywhere in a statement: they loop, reach outside the one database or change the connection. */
const FORBIDDEN_WORDS = new Set([
  'ATTACH',
  'DETACH',
  'PRAGMA',
  'VACUUM',
  'REINDEX',
  'ANALYZE',
  'BEGIN',
  'COMMIT',
  'END',
  'ROLLBACK',
  'SAVEPOINT',
  'RELEASE',
  'RECURSIVE',
  'LOAD_EXTENSION',
]);
/** Prefixes of names that belong to the runtime, SQLite or pragmas: never a tenant's. */
const INTERNAL_PREFIXES = ['_cf_', 'sqlite_', 'pragma_'];

function refuse(reason: string): SqlVerdict {
  return { ok: false, reason };
}

/** Why a token is refused wherever it appears, or null. */
function tokenProblem(t: SqlToken): string | null {
  if (t.type === 'word' && t.value === 'WITH') {
    return 'WITH (common table expressions) is not allowed: a CTE can refer to itself and run without end; use a subquery in FROM instead';
  }
  if (t.type === 'word' && FORBIDDEN_WORDS.has(t.value))
    return `${t.value} is not allowed: tenant SQL runs one statement against the tenant's own database only`;
  if (t.type === 'word' || t.type === 'quoted' || t.type === 'string') {
    const lower = t.value.toLowerCase();
    const prefix = INTERNAL_PREFIXES.find((p) => lower.startsWith(p));
    if (prefix) {
      return (
        `names starting with ${prefix} belong to the platform or SQLite and are not accessible` +
        (t.type === 'string' ? ' (to store such a text, bind it as a parameter)' : '')
      );
    }
  }
  return null;
}

/** What a CREATE statement may create: tables and indexes only. */
function createProblem(tokens: SqlToken[]): string | null {
  const what = tokens[1]?.type === 'word' && tokens[1].value === 'UNIQUE' ? tokens[2] : tokens[1];
  if (what?.type === 'word' && (what.value === 'TABLE' || what.value === 'INDEX')) return null;
  return `CREATE may create tables and indexes only (not ${what?.type === 'word' ? what.value : 'that'}): views, triggers, virtual and temporary tables are not available`;
}

/** Validate one statement of tenant SQL; says whether it reads or writes, or why it is refused. */
export function checkStatement(sql: string): SqlVerdict {
  if (sql.length > MAX_SQL_LENGTH) return refuse(`SQL is longer than ${MAX_SQL_LENGTH} characters`);
  let tokens: SqlToken[];
  try {
    tokens = tokenize(sql);
  } catch (error) {
    if (!(error instanceof SqlSyntaxError)) throw error;
    return refuse(`SQL does not parse: ${error.message}`);
  }
  let statement = sql;
  const semicolon = tokens.findIndex((t) => t.type === 'punct' && t.value === ';');
  if (semicolon !== -1) {
    if (semicolon < tokens.length - 1) return refuse('only one statement per call (found text after ";")');
    statement = sql.slice(0, tokens[semicolon]!.start);
    tokens = tokens.slice(0, semicolon);
  }
  if (tokens.length === 0) return refuse('SQL is empty');
  for (const t of tokens) {
    const problem = tokenProblem(t);
    if (problem) return refuse(problem);
  }
  const first = tokens[0]!;
  const verb = first.type === 'word' ? first.value : null;
  if (verb && READ_VERBS.has(verb)) return { ok: true, kind: 'read', verb, statement, tokens };
  if (verb === 'CREATE') {
    const problem = createProblem(tokens);
    if (problem) return refuse(problem);
  }
  if (verb && WRITE_VERBS.has(verb)) return { ok: true, kind: 'write', verb, statement, tokens };
  return refuse(`statement must start with SELECT, VALUES, INSERT, UPDATE, DELETE, REPLACE, CREATE, DROP or ALTER (got ${verb ?? first.value})`);
}
