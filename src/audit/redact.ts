/**
 * Redaction of audit details: the trail must answer "who did what" without becoming a second
 * place secrets live. Values under secret-looking names, or names a server author marks
 * sensitive, are replaced; strings are truncated and nesting is bounded so one event stays small.
 */

/** Names that always hold secrets, matched anywhere in the field name, case-insensitively. */
const SECRET_NAME = /pass(word|phrase|wd)?|secret|token|api[-_]?key|authori[sz]ation|credential|private[-_]?key|cookie|session[-_]?key|signature|otp/i;
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
    out[k] = isSecretName(k, sensitive) ? REDACTED : redact(v, sensitive, depth + 1);
  }
  return out;
}
