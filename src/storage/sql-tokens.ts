/**
 * SQLite's lexical structure, in one place: the statement guard, the cost bound and the audit's
 * literal masking all read tenant SQL through this tokenizer, so a string, a quoted name or a
 * comment is recognised the same way everywhere (and the way SQLite recognises it).
 */

export interface SqlToken {
  type: 'word' | 'quoted' | 'string' | 'blob' | 'number' | 'param' | 'punct';
  /** Upper-cased for words; the unquoted name for quoted identifiers and strings; the character for punctuation. */
  value: string;
  /** Offset of the token in the text. */
  start: number;
  /** Offset just past the token. */
  end: number;
}

/** Thrown for text SQLite could not tokenize either (an unterminated string, name or comment). */
export class SqlSyntaxError extends Error {}

/** Split SQL into tokens, dropping whitespace and comments. */
export function tokenize(sql: string): SqlToken[] {
  const tokens: SqlToken[] = [];
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
      tokens.push({ type: c === "'" ? 'string' : 'quoted', value, start: i, end: j + 1 });
      i = j + 1;
    } else if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      // x'..' blob literals: the quote follows the X directly.
      if (/[xX]/.test(c) && sql[i + 1] === "'") {
        const end = sql.indexOf("'", i + 2);
        if (end === -1) throw new SqlSyntaxError('unterminated blob literal');
        tokens.push({ type: 'blob', value: sql.slice(i + 2, end), start: i, end: end + 1 });
        i = end + 1;
        continue;
      }
      const m = /^[A-Za-z0-9_$\u0080-\uffff]+/.exec(sql.slice(i, i + 1000))!;
      tokens.push({ type: 'word', value: m[0].toUpperCase(), start: i, end: i + m[0].length });
      i += m[0].length;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const m = /^(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?)/.exec(sql.slice(i, i + 1000))!;
      const length = Math.max(1, m[0].length);
      tokens.push({ type: 'number', value: m[0], start: i, end: i + length });
      i += length;
    } else if (c === '?' || c === ':' || c === '@' || c === '$') {
      const m = /^[?:@$][A-Za-z0-9_]*/.exec(sql.slice(i, i + 1000))!;
      tokens.push({ type: 'param', value: m[0], start: i, end: i + m[0].length });
      i += m[0].length;
    } else {
      tokens.push({ type: 'punct', value: c, start: i, end: i + 1 });
      i++;
    }
  }
  return tokens;
}

/**
 * The statement with every literal (string, number, blob, and `"…"`, which SQLite reads as a string
 * when no column has that name) replaced by `?` and comments dropped:
 * what the audit trail keeps of tenant SQL, so a secret written inline (`WHERE token = 'abc'`)
 * never reaches it while the statement's shape (tables, columns, verbs) still does. Text that
 * does not tokenize is not stored at all.
 */
export function maskSqlLiterals(sql: string): string {
  let tokens: SqlToken[];
  try {
    tokens = tokenize(sql);
  } catch {
    return '[unparsable SQL]';
  }
  let out = '';
  let previousEnd = 0;
  for (const t of tokens) {
    if (out !== '' && t.start > previousEnd) out += ' ';
    // "…" is a string literal too when no column has that name (SQLite's double-quoted-string rule).
    const literal = t.type === 'string' || t.type === 'number' || t.type === 'blob' || (t.type === 'quoted' && sql[t.start] === '"');
    out += literal ? '?' : sql.slice(t.start, t.end);
    previousEnd = t.end;
  }
  return out;
}
