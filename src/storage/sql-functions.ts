import type { SqlToken } from './sql-tokens';

/**
 * The functions tenant SQL may call, and what they cost. Deny by default: a call to a function
 * not listed here is refused. Values in SQLite can grow to megabytes, and a statement can hold
 * thousands of calls, so the functions that make large values out of small ones are either refused
 * (`zeroblob`/`randomblob` past a small literal size, `printf`/`format` with `*` or large widths,
 * `replace` whose replacement is longer than what it replaces, unless both are short literals or
 * parameters) or counted as amplifiers (`||`, `concat`, `hex`, the JSON builders, aggregates that
 * join values) for the work bound in `sql-cost.ts`.
 */

/** Literal sizes allowed for zeroblob/randomblob (ids, small padding). */
export const MAX_GENERATED_BYTES = 1024;

const PLAIN = `abs changes char coalesce glob ifnull iif if instr last_insert_rowid length like likelihood likely lower ltrim max min nullif
  octet_length random round rtrim sign soundex substr substring total_changes trim typeof unhex unicode unlikely upper
  avg count sum total date time datetime julianday unixepoch strftime timediff
  acos acosh asin asinh atan atan2 atanh ceil ceiling cos cosh degrees exp floor ln log log10 log2 mod pi pow power radians sin sinh sqrt tan tanh trunc
  json_array_length json_error_position json_extract jsonb_extract json_type json_valid json_each json_tree
  row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value`;
/** Output up to the sum (or a small multiple) of the inputs: allowed, counted as amplifiers. */
const AMPLIFIERS = `concat concat_ws hex quote group_concat string_agg json jsonb json_array jsonb_array json_object jsonb_object json_insert jsonb_insert
  json_patch jsonb_patch json_pretty json_remove jsonb_remove json_replace jsonb_replace json_set jsonb_set json_quote
  json_group_array jsonb_group_array json_group_object jsonb_group_object printf format replace zeroblob randomblob`;

const words = (list: string) =>
  new Set(
    list
      .split(/\s+/)
      .filter(Boolean)
      .map((w) => w.toUpperCase()),
  );
const PLAIN_SET = words(PLAIN);
const AMPLIFIER_SET = words(AMPLIFIERS);
/** Words followed by `(` that are syntax, not calls. */
const SYNTAX = words(`in exists values cast check default key primary unique references over filter using on as into table index where and or not
  select from join by then else when case set is like glob between partition order group having limit offset union all distinct
  returning conflict do nothing window range rows groups collate escape`);
/** Keywords after which a name followed by `(` is a table or index with its column list. */
const NAME_BEFORE = words('table exists on into references index');
/** Column type names (`VARCHAR(20)`) in CREATE TABLE / ALTER TABLE ADD COLUMN. */
const TYPE_NAMES = words('varchar nvarchar character varying nchar native decimal numeric float double real int integer text blob boolean');

export interface FunctionVerdict {
  ok: boolean;
  reason?: string;
  /** Calls and value operators per row (each touches at most a row's worth of bytes). */
  operations: number;
  /** Multiplier on the size of any value the statement can build (1 = none). */
  amplification: number;
  /** Bytes of generated values (small literal zeroblob/randomblob), added to the literal bytes. */
  generatedBytes: number;
}

/** The argument tokens of the call whose `(` is at `open`, split at top-level commas. */
function callArguments(tokens: SqlToken[], open: number): SqlToken[][] {
  const args: SqlToken[][] = [[]];
  let depth = 0;
  for (const t of tokens.slice(open + 1)) {
    if (t.type === 'punct' && t.value === '(') depth++;
    if (t.type === 'punct' && t.value === ')') {
      if (depth === 0) break;
      depth--;
    }
    if (depth === 0 && t.type === 'punct' && t.value === ',') args.push([]);
    else args[args.length - 1]!.push(t);
  }
  return args;
}

/** A one-token literal or bound parameter argument's value, else undefined. */
function literalValue(arg: SqlToken[] | undefined, paramText: (t: SqlToken) => unknown): string | number | undefined {
  if (arg?.length !== 1) return undefined;
  const t = arg[0]!;
  if (t.type === 'string') return t.value;
  if (t.type === 'number') return Number(t.value);
  if (t.type === 'param') {
    const v = paramText(t);
    return typeof v === 'string' || typeof v === 'number' ? v : undefined;
  }
  return undefined;
}

const textLength = (v: string | number | undefined) => (v === undefined ? null : String(v).length);

/**
 * Check every function call of a statement and measure its value operations and amplification.
 * `isTable` tells table names (followed by a column list) from calls; `paramText` resolves a
 * parameter token to its bound value.
 */
export function checkFunctions(tokens: SqlToken[], verb: string, isTable: (name: string) => boolean, paramText: (t: SqlToken) => unknown): FunctionVerdict {
  const refuse = (reason: string): FunctionVerdict => ({ ok: false, reason, operations: 0, amplification: 1, generatedBytes: 0 });
  const schemaStatement = verb === 'CREATE' || verb === 'ALTER';
  let operations = 1;
  let amplifiers = 0;
  let replaceFactor = 1;
  let generatedBytes = 0;
  let selects = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (t.type === 'word' && t.value === 'SELECT') selects++;
    if (t.type === 'punct' && t.value === '|' && next?.value === '|') {
      amplifiers++;
      operations++;
      i++;
      continue;
    }
    if (t.type === 'punct' && '=<>!+-*/%&'.includes(t.value)) operations++;
    if (t.type === 'word' && ['LIKE', 'GLOB', 'REGEXP', 'MATCH', 'BETWEEN', 'IN', 'IS'].includes(t.value)) operations++;
    if ((t.type !== 'word' && t.type !== 'quoted') || next?.type !== 'punct' || next.value !== '(') continue;
    const name = t.value.toUpperCase();
    if (t.type === 'word' && SYNTAX.has(name)) continue;
    if (isTable(t.value.toLowerCase())) continue;
    // A name being created or named as a table, with its column list: `CREATE TABLE t (`, `INTO t (`, `ON t (`.
    const previous = tokens[i - 1];
    if (previous && ((previous.type === 'word' && NAME_BEFORE.has(previous.value)) || (previous.type === 'punct' && previous.value === '.'))) continue;
    if (schemaStatement && TYPE_NAMES.has(name)) continue;
    if (!PLAIN_SET.has(name) && !AMPLIFIER_SET.has(name)) return refuse(`function ${t.value.toLowerCase()}() is not available to tenant SQL`);
    operations++;
    if (!AMPLIFIER_SET.has(name)) continue;
    const args = callArguments(tokens, i + 1);
    if (name === 'ZEROBLOB' || name === 'RANDOMBLOB') {
      const n = literalValue(args[0], paramText);
      if (typeof n !== 'number' || !(n <= MAX_GENERATED_BYTES)) {
        return refuse(`${name.toLowerCase()}() is limited to a literal size of at most ${MAX_GENERATED_BYTES} bytes`);
      }
      generatedBytes += Math.max(0, n);
    } else if (name === 'PRINTF' || name === 'FORMAT') {
      const format = args[0]?.length === 1 && args[0][0]!.type === 'string' ? args[0][0]!.value : null;
      if (format === null || format.includes('*') || /%[^a-zA-Z%]*\d{4,}/.test(format)) {
        return refuse(`${name.toLowerCase()}() needs a literal format without * and with widths under 1000`);
      }
      amplifiers++;
    } else if (name === 'REPLACE') {
      const [from, to] = [textLength(literalValue(args[1], paramText)), textLength(literalValue(args[2], paramText))];
      if (from === null || to === null) return refuse('replace() needs a literal or bound parameter as its 2nd and 3rd arguments');
      if (to > from) {
        if (to > 64) return refuse('replace() may not replace text with text longer than 64 characters');
        replaceFactor *= Math.ceil(to / Math.max(1, from));
      }
    } else {
      amplifiers++;
    }
  }
  // Without repeated references a flat expression is at most the sum of its parts; each FROM
  // subquery level may reuse a value in several places, so the bound compounds per level.
  const amplification = Math.min(Number.MAX_SAFE_INTEGER, (1 + amplifiers) ** Math.max(1, selects) * replaceFactor);
  return { ok: true, operations, amplification, generatedBytes };
}
