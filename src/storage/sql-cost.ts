import { checkFunctions } from './sql-functions';
import type { SqlToken } from './sql-tokens';

/**
 * The worst-case work of one tenant statement, bounded before it runs. SQLite cannot be
 * interrupted mid-statement inside a Durable Object (and `Date.now()` does not advance while it
 * runs), so a statement that would take long must be refused up front, not abandoned. Once the
 * guard has removed what loops (`WITH`, triggers, views), a statement's work is at most the product
 * of the rows of every source it names: each table occurrence, each `VALUES` list and each
 * `json_each`/`json_tree` call (sized by its literal or bound argument) is one nested loop at worst. The bound counts every occurrence of a
 * table's name wherever it appears except as a column qualifier (`t.col`) (conservative: a column
 * spelled like a table counts too), so no syntax can hide a loop from it. A statement with a single source is bounded by the database size
 * cap and is not counted; combining sources must stay within `MAX_ROW_VISITS`.
 */

/** Row combinations a statement with more than one source may visit at worst (a 1,000 × 2,000 join). */
export const MAX_ROW_VISITS = 2_000_000;
/**
 * Bytes a statement may process at worst: value operations per row × amplification × the bytes of
 * every row combination (and the literals, once per combination). About a second of SQLite work.
 */
export const MAX_WORK_BYTES = 512 * 1024 * 1024;
/** Elements a `json_each`/`json_tree` over a computed value may yield: a value holds under 10 MB. */
export const JSON_ELEMENTS_BOUND = 5_000_000;

/** What the bound needs to know about the database, read by the database object itself. */
export interface SchemaView {
  /** `table` or `view` for a schema object of that (lower-cased) name, else undefined. */
  kind(name: string): 'table' | 'view' | undefined;
  /** Rows of a table. */
  rows(name: string): number;
  /** Bytes of a table's values (as text or blob), exact but a scan: asked only when the cheap bound fails. */
  bytes(name: string): number;
  /** The database file's size: with a margin, a cheap upper bound of any table's bytes. */
  databaseBytes(): number;
  /** Tables whose foreign keys point at the table (a delete or update there may scan them). */
  referencing(name: string): string[];
}

export type CostVerdict = { ok: true; rowVisits: number } | { ok: false; reason: string };

type Factor = { label: string; rows: () => number; bytes: (exact: boolean) => number };

const NAME_TYPES: ReadonlySet<SqlToken['type']> = new Set(['word', 'quoted', 'string']);

/** Tuples in the VALUES list starting at `index` (the VALUES keyword). */
function valuesRows(tokens: SqlToken[], index: number): number {
  let depth = 0;
  let rows = 0;
  for (const t of tokens.slice(index + 1)) {
    if (t.type === 'punct' && t.value === '(') {
      if (depth === 0) rows++;
      depth++;
    } else if (t.type === 'punct' && t.value === ')') {
      if (depth === 0) break;
      depth--;
    } else if (depth === 0 && !(t.type === 'punct' && t.value === ',')) break;
  }
  return Math.max(1, rows);
}

/** SQLite's number for each `?`/`?NNN` parameter token, by token index (named ones are not numbered here). */
function parameterNumbers(tokens: SqlToken[]): Map<number, number> {
  const numbers = new Map<number, number>();
  let largest = 0;
  tokens.forEach((t, i) => {
    if (t.type !== 'param' || !t.value.startsWith('?')) return;
    const n = t.value.length > 1 ? Number(t.value.slice(1)) : largest + 1;
    largest = Math.max(largest, n);
    numbers.set(i, n);
  });
  return numbers;
}

/**
 * Elements of a json_each/json_tree call at `index`: at most half the length of its argument when
 * that is a literal or a bound parameter (an element takes two characters at least), bounded otherwise.
 */
function jsonRows(tokens: SqlToken[], index: number, params: readonly unknown[], numbers: Map<number, number>): number {
  const [open, arg, after] = [tokens[index + 1], tokens[index + 2], tokens[index + 3]];
  if (open?.value !== '(' || after?.type !== 'punct' || (after.value !== ')' && after.value !== ',')) return JSON_ELEMENTS_BOUND;
  const text = arg?.type === 'string' ? arg.value : arg?.type === 'param' ? params[(numbers.get(index + 2) ?? 0) - 1] : undefined;
  return typeof text === 'string' ? Math.ceil(text.length / 2) + 1 : JSON_ELEMENTS_BOUND;
}

/** Index of the table an INSERT/REPLACE writes into (it is looked up by key, not scanned). */
function insertTarget(tokens: SqlToken[], verb: string): number {
  if (verb !== 'INSERT' && verb !== 'REPLACE') return -1;
  const into = tokens.findIndex((t) => t.type === 'word' && t.value === 'INTO');
  if (into === -1) return -1;
  const dotted = tokens[into + 2]?.type === 'punct' && tokens[into + 2]!.value === '.';
  return dotted ? into + 3 : into + 1;
}

/** Bound the work of a statement the guard accepted, or say why it is refused. */
export function checkCost(tokens: SqlToken[], verb: string, kind: 'read' | 'write', schema: SchemaView, params: readonly unknown[] = []): CostVerdict {
  const factors: Factor[] = [];
  const numbers = parameterNumbers(tokens);
  const target = insertTarget(tokens, verb);
  const scannedForWrites = new Set<string>();
  tokens.forEach((t, i) => {
    if (t.type === 'word' && t.value === 'VALUES') {
      const rows = valuesRows(tokens, i);
      factors.push({ label: `VALUES (${rows} rows)`, rows: () => rows, bytes: () => 0 });
      return;
    }
    if (t.type === 'word' && (t.value === 'JSON_EACH' || t.value === 'JSON_TREE') && tokens[i + 1]?.value === '(') {
      const rows = jsonRows(tokens, i, params, numbers);
      factors.push({ label: t.value.toLowerCase(), rows: () => rows, bytes: () => rows * 2 });
      return;
    }
    if (!NAME_TYPES.has(t.type)) return;
    // `big.x` qualifies a column (ATTACH is refused, so `main`/`temp` are the only schemas): not a source.
    if (tokens[i + 1]?.type === 'punct' && tokens[i + 1]!.value === '.') return;
    const name = t.value.toLowerCase();
    const found = schema.kind(name);
    if (found === 'view') throw new CostRefusal(`"${t.value}" is a view; views are not available to tenant SQL, query its tables`);
    if (found !== 'table') return;
    if (kind === 'write') scannedForWrites.add(name);
    if (i !== target) factors.push({ label: name, rows: () => schema.rows(name), bytes: (exact) => (exact ? schema.bytes(name) : cheapBytes()) });
  });
  // A write to a table others reference may look each of them up per changed row.
  for (const name of scannedForWrites) {
    for (const child of schema.referencing(name)) {
      factors.push({ label: `${child} (references ${name})`, rows: () => schema.rows(child), bytes: (exact) => (exact ? schema.bytes(child) : cheapBytes()) });
    }
  }
  const functions = checkFunctions(
    tokens,
    verb,
    (name) => schema.kind(name) !== undefined,
    (t) => params[(numbers.get(tokens.indexOf(t)) ?? 0) - 1],
  );
  if (!functions.ok) return { ok: false, reason: functions.reason! };
  const rowsCheck = checkRowVisits(factors);
  if (!rowsCheck.ok) return rowsCheck;
  const literalBytes =
    tokens.reduce((n, t) => n + (t.type === 'string' || t.type === 'blob' || t.type === 'number' ? t.value.length : 0), 0) +
    [...new Set(numbers.values())].reduce<number>((n, k) => n + (typeof params[k - 1] === 'string' ? (params[k - 1] as string).length : 8), 0) +
    functions.generatedBytes;
  const work = (exact: boolean) => {
    const rows = factors.map((f) => Math.max(1, f.rows()));
    const combinations = rows.reduce((a, b) => a * b, 1);
    const dataBytes = factors.reduce((sum, f, i) => sum + f.bytes(exact) * (combinations / rows[i]!), 0);
    return functions.operations * functions.amplification * (dataBytes + combinations * literalBytes);
  };
  const estimate = work(false) <= MAX_WORK_BYTES ? work(false) : work(true);
  if (estimate > MAX_WORK_BYTES) {
    return {
      ok: false,
      reason:
        `statement may process up to ${(estimate / 1024 / 1024).toFixed(0)} MiB (${functions.operations} value operations × ${functions.amplification} ` +
        `amplification over the rows it reads), more than the ${MAX_WORK_BYTES / 1024 / 1024} MiB allowed; use fewer functions or operators, ` +
        'read fewer or smaller rows, or split the work into several statements',
    };
  }
  return { ok: true, rowVisits: rowsCheck.rowVisits };

  function cheapBytes(): number {
    return 2 * schema.databaseBytes();
  }
}

/** More than one source: the product of their rows must stay within MAX_ROW_VISITS. */
function checkRowVisits(factors: Factor[]): CostVerdict {
  if (factors.length <= 1) return { ok: true, rowVisits: factors.length === 0 ? 1 : Number.NaN };
  let visits = 1;
  const counted: string[] = [];
  for (const f of factors) {
    const rows = Math.max(1, f.rows());
    visits *= rows;
    counted.push(`${f.label}: ${rows}`);
  }
  if (visits > MAX_ROW_VISITS) {
    return {
      ok: false,
      reason:
        `statement may visit up to ${visits.toExponential(1)} row combinations (${counted.join(' × ')}), more than the ${MAX_ROW_VISITS} allowed ` +
        'when a statement combines sources (the bound counts whole tables: it cannot see WHERE); split the work into several statements, ' +
        'for example read the keys first and pass them as parameters',
    };
  }
  return { ok: true, rowVisits: visits };
}

/** A refusal found while walking the tokens. */
export class CostRefusal extends Error {}
