import type { SchemaView } from './sql-cost';

/** Escape a name for use inside double quotes. */
const quoteName = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Row and byte counts per table, kept by the database object until its next write. */
export type TableStats = Map<string, { rows?: number; bytes?: number }>;

/**
 * The schema facts `checkCost` needs, read from the tenant database itself with trusted SQL. Row
 * and byte counts are taken lazily (each is a scan) and kept in `stats`, which the database object
 * clears whenever a statement writes.
 */
export function schemaView(sql: SqlStorage, stats: TableStats): SchemaView {
  const objects = new Map<string, { kind: 'table' | 'view'; name: string; definition: string }>();
  for (const row of sql.exec<{ name: string; type: string; sql: string | null }>("SELECT name, type, sql FROM sqlite_schema WHERE type IN ('table', 'view')")) {
    if (row.name.startsWith('_cf_')) continue;
    objects.set(row.name.toLowerCase(), { kind: row.type === 'view' ? 'view' : 'table', name: row.name, definition: row.sql ?? '' });
  }
  const entry = (name: string) => {
    let e = stats.get(name);
    if (!e) stats.set(name, (e = {}));
    return e;
  };
  return {
    kind: (name) => objects.get(name)?.kind,
    rows(name) {
      const object = objects.get(name);
      if (!object) return 0;
      const e = entry(name);
      e.rows ??= Number(sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${quoteName(object.name)}`).one().n);
      return e.rows;
    },
    bytes(name) {
      const object = objects.get(name);
      if (!object) return 0;
      const e = entry(name);
      if (e.bytes === undefined) {
        const columns = [...sql.exec<{ name: string }>('SELECT name FROM pragma_table_info(?)', object.name)].map((c) => c.name);
        const sum = columns.length ? columns.map((c) => `coalesce(length(CAST(${quoteName(c)} AS BLOB)), 0)`).join(' + ') : '0';
        e.bytes = Number(sql.exec<{ b: number | null }>(`SELECT sum(${sum}) AS b FROM ${quoteName(object.name)}`).one().b ?? 0);
      }
      return e.bytes;
    },
    databaseBytes: () => sql.databaseSize,
    referencing(name) {
      const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const pattern = new RegExp(`REFERENCES\\s*["\`\\[']?${escaped}\\b`, 'i');
      return [...objects.entries()].filter(([, o]) => o.kind === 'table' && pattern.test(o.definition)).map(([key]) => key);
    },
  };
}
