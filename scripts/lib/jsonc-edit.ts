/**
 * Minimal JSONC reader for editing `wrangler.jsonc` as text: finds arrays by their key path so an
 * element can be appended without reformatting the file or losing its comments. Throws on
 * anything that is not well-formed JSONC, so a broken file is never edited further.
 */

export interface ArraySpan {
  /** Offset of `[`. */
  open: number;
  /** Offset of `]`. */
  close: number;
  /** Start and end offsets of each element. */
  elements: Array<{ start: number; end: number }>;
}

/** Every array in the document, keyed by its path (`durable_objects.bindings`, `migrations`). */
export function findArrays(text: string): Map<string, ArraySpan> {
  const arrays = new Map<string, ArraySpan>();
  let i = 0;
  const fail = (what: string): never => {
    const line = text.slice(0, i).split('\n').length;
    throw new Error(`wrangler.jsonc line ${line}: ${what}`);
  };
  const skip = () => {
    for (;;) {
      while (i < text.length && /\s/.test(text[i]!)) i++;
      if (text.startsWith('//', i)) {
        const end = text.indexOf('\n', i);
        i = end === -1 ? text.length : end + 1;
      } else if (text.startsWith('/*', i)) {
        const end = text.indexOf('*/', i + 2);
        if (end === -1) fail('unterminated comment');
        i = end + 2;
      } else return;
    }
  };
  const string = (): string => {
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    skip();
    const c = text[i];
    if (c === '{') {
      i++;
      for (;;) {
        skip();
        if (text[i] === '}') return void i++;
        if (text[i] !== '"') fail('expected a property name');
        const key = string();
        skip();
        if (text[i] !== ':') fail('expected ":"');
        i++;
        value(path ? `${path}.${key}` : key);
        skip();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') fail('expected "," or "}"');
      }
    } else if (c === '[') {
      const span: ArraySpan = { open: i, close: -1, elements: [] };
      i++;
      for (;;) {
        skip();
        if (text[i] === ']') {
          span.close = i++;
          arrays.set(path, span);
          return;
        }
        const start = i;
        value(`${path}[]`);
        span.elements.push({ start, end: i });
        skip();
        if (text[i] === ',') i++;
        else if (text[i] !== ']') fail('expected "," or "]"');
      }
    } else if (c === '"') {
      string();
    } else {
      const m = /^(true|false|null|-?[0-9][0-9.eE+-]*)/.exec(text.slice(i));
      if (!m) fail('unexpected character');
      i += m![0].length;
    }
  };
  value('');
  skip();
  if (i < text.length) fail('text after the end of the document');
  return arrays;
}

function lineIndent(text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))![0];
}

/** Append one element (already formatted as JSON) to the array at `path`, keeping everything else. */
export function appendToArray(text: string, path: string, element: string): string {
  const span = findArrays(text).get(path);
  if (!span) throw new Error(`wrangler.jsonc has no array at ${path}`);
  const last = span.elements.at(-1);
  if (!last) {
    const indent = lineIndent(text, span.open);
    return `${text.slice(0, span.open + 1)}\n${indent}  ${element}\n${indent}${text.slice(span.close)}`;
  }
  return `${text.slice(0, last.end)},\n${lineIndent(text, last.start)}${element}${text.slice(last.end)}`;
}
