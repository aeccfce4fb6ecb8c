import type { SchemaView } from './sql-cost';

/** Escape a name for use inside double quotes. */
const quoteName = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * The schema facts `checkCost` needs, read from the tenant database itself with trusted SQL. Row
 * counts are taken lazily (only for statements that combine sources) and once per statement.
 */
export function schemaView(sql: SqlStorage): SchemaView {
  const objects = new Map<string, { kind: 'table' | 'view'; name: string; definition: string }>();
  for (const row of sql.exec<{ name: string; type: string; sql: string | null }>("SELECT name, type, sql FROM sqlite_schema WHERE type IN ('table', 'view')")) {
    if (row.name.startsWith('_cf_')) continue;
    objects.set(row.name.toLowerCase(), { kind: row.type === 'view' ? 'view' : 'table', name: row.name, definition: row.sql ?? '' });
  }
  const counts = new Map<string, number>();
  return {
    kind: (name) => objects.get(name)?.kind,
    rows(name) {
      const known = counts.get(name);
      if (known !== undefined) return known;
      const object = objects.get(name);
      const n = object ? Number(sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${quoteName(object.name)}`).one().n) : 0;
      counts.set(name, n);
      return n;
    },
    referencing(name) {
      const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const pattern = new RegExp(`REFERENCES\\s*["\`\\[']?${escaped}\\b`, 'i');
      return [...objects.entries()].filter(([, o]) => o.kind === 'table' && pattern.test(o.definition)).map(([key]) => key);
    },
  };
}
