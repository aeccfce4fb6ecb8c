/**
 * Statement validation for tenant SQL (the `storage` server's `sql_query`). SQLite itself (and the
 * Durable Object's authorizer) is the last line; this guard is the first: it tokenizes the text the
 * way SQLite does (strings, quoted identifiers, comments), so a keyword hidden in a string or a
 * comment neither hides a statement nor triggers a false refusal, and it answers with a reason a
 * person can act on.
 *
 * Rules: exactly one statement; the statement verb must be a read (`SELECT`, `VALUES`, `WITH …
 * SELECT`) or a data/schema write (`INSERT`, `UPDATE`, `DELETE`, `REPLACE`, `CREATE`, `DROP`,
 * `ALTER`); `ATTACH`, `DETACH`, `PRAGMA`, `VACUUM`, transactions and the like are refused wherever
 * they appear; names starting `_cf_` (the Durable Object's own tables) are refused; recursive CTEs
 * are refused because SQLite cannot be interrupted mid-statement from a Durable Object.
 */

export const MAX_SQL_LENGTH = 100_000;

export type StatementKind = 'read' | 'write';

/** `statement` is the text to run: the input without a trailing `;` (and anything after it but comments). */
export type SqlVerdict = { ok: true; kind: StatementKind; verb: string; statement: string } | { ok: false; reason: string };

interface Token {
  type: 'word' | 'quoted' | 'string' | 'number' | 'param' | 'punct';
  /** Upper-cased for words; the unquoted name for quoted identifiers; the character for punctuation. */
  value: string;
  /** Offset of the token in the text. */
  start: number;
}

const READ_VERBS = new Set(['SELECT', 'VALUES']);
const WRITE_VERBS = new Set(['INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'CREATE', 'DROP', 'ALTER']);
/** Refused anywhere in a statement: they reach outside the one database or change the connection. */
const FORBIDDEN_WORDS = new Set([
  'ATTACH', 'DETACH', 'PRAGMA', 'VACUUM', 'REINDEX', 'ANALYZE', 'BEGIN', 'COMMIT', 'END', 'ROLLBACK', 'SAVEPOINT', 'RELEASE', 'RECURSIVE', 'LOAD_EXTENSION',
]);

class SqlSyntaxError extends Error {}

function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const closing = (open: string) => (open === '[' ? ']' : open);
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) throw new SqlSyntaxError('unterminated /* comment');
      i = end + 2;
    } else if (c === "'" || c === '"' || c === '`' || c === '[') {
      const close = closing(c);
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= sql.length) throw new SqlSyntaxError(c === "'" ? 'unterminated string' : 'unterminated quoted name');
        if (sql[j] === close) {
          if (close !== ']' && sql[j + 1] === close) {
            value += close;
            j += 2;
            continue;
          }
          break;
        }
        value += sql[j];
        j++;
      }
      tokens.push({ type: c === "'" ? 'string' : 'quoted', value, start: i });
      i = j + 1;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      const m = /^[A-Za-z0-9_$\u0080-\uffff]+/.exec(sql.slice(i))!;
      // x'..' blob literals: the quote follows the X directly.
      if (m[0].length === 1 && /[xX]/.test(c) && sql[i + 1] === "'") {
        i++;
        continue;
      }
      tokens.push({ type: 'word', value: m[0].toUpperCase(), start: i });
      i += m[0].length;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const m = /^(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?)/.exec(sql.slice(i))!;
      tokens.push({ type: 'number', value: m[0], start: i });
      i += Math.max(1, m[0].length);
    } else if (c === '?' || c === ':' || c === '@' || c === '$') {
      const m = /^[?:@$][A-Za-z0-9_]*/.exec(sql.slice(i))!;
      tokens.push({ type: 'param', value: m[0], start: i });
      i += m[0].length;
    } else {
      tokens.push({ type: 'punct', value: c, start: i });
      i++;
    }
  }
  return tokens;
}

/** The verb of a `WITH` statement: the first top-level statement keyword after the CTE list. */
function withVerb(tokens: Token[]): string | null {
  let depth = 0;
  for (const t of tokens.slice(1)) {
    if (t.type === 'punct' && t.value === '(') depth++;
    else if (t.type === 'punct' && t.value === ')') depth--;
    else if (depth === 0 && t.type === 'word' && (READ_VERBS.has(t.value) || ['INSERT', 'UPDATE', 'DELETE', 'REPLACE'].includes(t.value))) return t.value;
  }
  return null;
}

/** Validate one statement of tenant SQL; says whether it reads or writes, or why it is refused. */
export function checkStatement(sql: string): SqlVerdict {
  if (sql.length > MAX_SQL_LENGTH) return { ok: false, reason: `SQL is longer than ${MAX_SQL_LENGTH} characters` };
  let tokens: Token[];
  try {
    tokens = tokenize(sql);
  } catch (error) {
    return { ok: false, reason: `SQL does not parse: ${(error as Error).message}` };
  }
  let statement = sql;
  const semicolon = tokens.findIndex((t) => t.type === 'punct' && t.value === ';');
  if (semicolon !== -1) {
    if (semicolon < tokens.length - 1) return { ok: false, reason: 'only one statement per call (found text after ";")' };
    statement = sql.slice(0, tokens[semicolon]!.start);
    tokens = tokens.slice(0, semicolon);
  }
  if (tokens.length === 0) return { ok: false, reason: 'SQL is empty' };
  for (const t of tokens) {
    if (t.type === 'word' && FORBIDDEN_WORDS.has(t.value)) return { ok: false, reason: `${t.value} is not allowed: tenant SQL runs one statement against the tenant's own database only` };
    if ((t.type === 'word' || t.type === 'quoted') && t.value.toLowerCase().startsWith('_cf_')) {
      return { ok: false, reason: 'names starting with _cf_ belong to the platform and are not accessible' };
    }
  }
  const first = tokens[0]!;
  const verb = first.type === 'word' && first.value === 'WITH' ? withVerb(tokens) : first.type === 'word' ? first.value : null;
  if (verb && READ_VERBS.has(verb)) return { ok: true, kind: 'read', verb, statement };
  if (verb && WRITE_VERBS.has(verb)) return { ok: true, kind: 'write', verb, statement };
  return { ok: false, reason: `statement must start with SELECT, VALUES, WITH, INSERT, UPDATE, DELETE, REPLACE, CREATE, DROP or ALTER (got ${verb ?? first.value})` };
}
