/**
 * The `storage` server's size limits and input checks, in one place so the tools, the tests and
 * `docs/servers.md` state the same numbers. Limits sit below the platform's (KV keys 512 bytes,
 * R2 keys 1024 bytes, MCP request bodies 1 MiB) so a valid call can never fail further down.
 */
export const LIMITS = {
  /** KV key, in UTF-8 bytes. */
  keyBytes: 256,
  /** KV value, in UTF-8 bytes. */
  valueBytes: 128 * 1024,
  /** File path, in UTF-8 bytes. */
  pathBytes: 512,
  /** File content, in bytes after base64 decoding (fits a 1 MiB request as base64). */
  fileBytes: 512 * 1024,
  /** Entries per kv_list / files_list page. */
  listPage: 1000,
  /** sql_query: rows per result (default and maximum). */
  sqlRows: 1000,
  /** sql_query: how long the tool waits for the tenant database, in milliseconds. */
  sqlTimeMs: 5000,
} as const;

const CONTROL = /[\u0000-\u001f\u007f]/;
const utf8Bytes = (s: string) => new TextEncoder().encode(s).byteLength;

/** Null when the KV key is acceptable, else why not. */
export function keyProblem(key: string): string | null {
  if (key.length === 0) return 'key must not be empty';
  if (utf8Bytes(key) > LIMITS.keyBytes) return `key must be at most ${LIMITS.keyBytes} bytes (UTF-8), got ${utf8Bytes(key)}`;
  if (CONTROL.test(key)) return 'key must not contain control characters';
  return null;
}

/** Null when the file path is acceptable (relative, no `.`/`..`/empty segments), else why not. */
export function pathProblem(path: string): string | null {
  if (path.length === 0) return 'path must not be empty';
  if (utf8Bytes(path) > LIMITS.pathBytes) return `path must be at most ${LIMITS.pathBytes} bytes (UTF-8), got ${utf8Bytes(path)}`;
  if (path.startsWith('/')) return 'path must be relative (no leading "/")';
  if (path.includes('\\') || CONTROL.test(path)) return 'path must not contain backslashes or control characters';
  if (path.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) return 'path must not contain empty, "." or ".." segments';
  return null;
}

/** Null when the directory prefix is acceptable (empty, or a path ending in `/`), else why not. */
export function dirProblem(dir: string): string | null {
  if (dir === '') return null;
  if (!dir.endsWith('/')) return 'dir must end with "/"';
  return pathProblem(dir.slice(0, -1));
}

export { utf8Bytes };
