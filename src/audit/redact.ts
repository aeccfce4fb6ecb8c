import { maskSqlLiterals } from '../storage/sql-tokens';

/**
 * Redaction of audit details: the trail must answer "who did what" without becoming a second
 * place secrets live. Values under secret-looking names, or names a server author marks
 * sensitive, are replaced; SQL text (a field named `sql`) keeps its shape but not its literals
 * (`WHERE token = 'abc'` is stored as `WHERE token = ?`); strings are truncated and nesting is bounded so one event stays small.
 */

/** Names that always hold secrets, matched anywhere in the field name, case-insensitively. */
const SECRET_NAME = /pass(word|phrase|wd)?|secret|token|api[-_]?key|authori[sz]ation|credential|private[-_]?key|cookie|session[-_]?key|signature|otp/i;
/** Names that hold SQL text: stored with every literal replaced by `?` (see `maskSqlLiterals`). */
const SQL_NAME = /^sql$/i;
export const REDACTED = '[redacted]';
const MAX_STRING = 512;
const MAX_DEPTH = 4;
const MAX_ENTRIES = 50;

/** True when a field name must never be stored. */
export function isSecretName(name: string, sensitive: ReadonlySet<string> = new Set()): boolean {
  return sensitive.has(name) || SECRET_NAME.test(name);
}

/** Copy `value` with secrets replaced and sizes bounded. `sensitive` adds author-marked field names. */
export function redact(value: unknown, sensitive: ReadonlySet<string> = new Set(), depth = 0): unknown {
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? String(value) : value;
  if (depth >= MAX_DEPTH) return '[truncated]';
  if (Array.isArray(value)) return value.slice(0, MAX_ENTRIES).map((v) => redact(v, sensitive, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value).slice(0, MAX_ENTRIES)) {
    if (isSecretName(k, sensitive)) out[k] = REDACTED;
    else out[k] = redact(SQL_NAME.test(k) && typeof v === 'string' ? maskSqlLiterals(v) : v, sensitive, depth + 1);
  }
  return out;
}
