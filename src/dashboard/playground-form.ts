import { html, type SafeHtml } from '../http/html';

/**
 * Forms for the tool playground, built from a tool's JSON Schema `inputSchema`: strings as text
 * inputs, numbers and integers as number inputs, booleans and enums as selects (with "not set"
 * when optional), anything else (objects, arrays, unions) as a JSON text area. And the way back:
 * the posted form to the tool's arguments, converted by the same schema, or the reason why not.
 * Every string reaches the page through the escaping `html` tag; the server still validates.
 */

/** The part of a JSON Schema property the playground understands. */
export interface PropertySchema {
  type?: string | string[];
  enum?: unknown[];
  description?: string;
  title?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
}

export interface ToolInfo {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: { type?: string; properties?: Record<string, PropertySchema>; required?: string[] };
  annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean; title?: string };
}

type FieldKind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';

/** Field names carry the argument name after this prefix, so no argument can collide with `csrf` or `tool`. */
export const ARG_PREFIX = 'arg:';

function kindOf(p: PropertySchema): FieldKind {
  if (Array.isArray(p.enum) && p.enum.length > 0 && p.enum.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) return 'enum';
  const type = Array.isArray(p.type) ? (p.type.filter((t) => t !== 'null').length === 1 ? p.type.find((t) => t !== 'null') : undefined) : p.type;
  return type === 'string' || type === 'number' || type === 'integer' || type === 'boolean' ? type : 'json';
}

function properties(tool: ToolInfo): Array<[string, PropertySchema, boolean]> {
  const required = new Set(tool.inputSchema?.required ?? []);
  return Object.entries(tool.inputSchema?.properties ?? {}).map(([name, schema]) => [name, schema ?? {}, required.has(name)]);
}

/** The input for one argument; `value` is what was posted last (kept after a call or an error). */
function field(formId: string, index: number, name: string, p: PropertySchema, required: boolean, value: string | undefined): SafeHtml {
  const id = `${formId}-a${index}`;
  const kind = kindOf(p);
  const fieldName = `${ARG_PREFIX}${name}`;
  const help = [p.description, kind === 'json' ? 'JSON' : '', required ? 'required' : 'optional'].filter(Boolean).join(' · ');
  const label = html`<label for="${id}">${p.title ?? name}</label><span class="muted small" id="${id}-help">${help}</span>`;
  const req = required ? html` required` : '';
  const given = value ?? (p.default === undefined ? '' : kind === 'json' || kind === 'enum' ? JSON.stringify(p.default) : String(p.default));
  if (kind === 'enum' || kind === 'boolean') {
    const options = kind === 'enum' ? p.enum! : [true, false];
    const unset = required ? '' : html`<option value="">(not set)</option>`;
    return html`<div class="field">${label}<select id="${id}" name="${fieldName}" aria-describedby="${id}-help"${req}>${unset}${options.map((o) => {
      const v = JSON.stringify(o);
      return html`<option value="${v}"${v === given ? html` selected` : ''}>${String(o)}</option>`;
    })}</select></div>`;
  }
  if (kind === 'json') {
    return html`<div class="field">${label}<textarea id="${id}" name="${fieldName}" rows="3" spellcheck="false" aria-describedby="${id}-help"${req}>${given}</textarea></div>`;
  }
  const type = kind === 'string' ? 'text' : 'number';
  const step = kind === 'integer' ? html` step="1"` : kind === 'number' ? html` step="any"` : '';
  const bounds = html`${p.minimum !== undefined ? html` min="${String(p.minimum)}"` : ''}${p.maximum !== undefined ? html` max="${String(p.maximum)}"` : ''}${p.maxLength !== undefined ? html` maxlength="${String(p.maxLength)}"` : ''}`;
  return html`<div class="field">${label}<input id="${id}" name="${fieldName}" type="${type}"${step}${bounds} value="${given}" autocomplete="off" aria-describedby="${id}-help"${req}></div>`;
}

/** The form that calls `tool`; `values` refills it after a call. */
export function toolForm(action: string, csrf: SafeHtml, formId: string, tool: ToolInfo, values: Map<string, string> = new Map()): SafeHtml {
  const fields = properties(tool).map(([name, p, required], i) => field(formId, i, name, p, required, values.get(name)));
  return html`<form method="post" action="${action}" class="playground-form" id="${formId}">${csrf}
  <input type="hidden" name="tool" value="${tool.name}">
  ${fields.length ? fields : html`<p class="muted small">No arguments.</p>`}
  <div><button type="submit">Call ${tool.name}</button></div>
</form>`;
}

/** The posted values by argument name (for refilling the form). */
export function postedValues(form: FormData): Map<string, string> {
  const values = new Map<string, string>();
  for (const [key, value] of form) if (key.startsWith(ARG_PREFIX) && typeof value === 'string') values.set(key.slice(ARG_PREFIX.length), value);
  return values;
}

/**
 * The tool's arguments from the posted form: empty optional fields are left out, each value
 * converted by its schema type. Returns the first problem instead when a value does not convert;
 * range and format rules are the server's to enforce (its error is shown like any other).
 */
export function argumentsFrom(tool: ToolInfo, values: Map<string, string>): { args: Record<string, unknown> } | { error: string } {
  const args: Record<string, unknown> = {};
  for (const [name, p, required] of properties(tool)) {
    const raw = values.get(name) ?? '';
    if (raw === '') {
      if (required && kindOf(p) !== 'string') return { error: `${name} is required` };
      if (required) args[name] = '';
      continue;
    }
    const kind = kindOf(p);
    if (kind === 'string') args[name] = raw;
    else if (kind === 'number' || kind === 'integer') {
      const n = Number(raw);
      if (!Number.isFinite(n) || (kind === 'integer' && !Number.isInteger(n)))
        return { error: `${name} must be ${kind === 'integer' ? 'an integer' : 'a number'}` };
      args[name] = n;
    } else {
      try {
        args[name] = JSON.parse(raw);
      } catch {
        return { error: `${name} is not valid JSON` };
      }
      if (kind === 'enum' && !p.enum!.some((v) => JSON.stringify(v) === raw)) return { error: `${name} must be one of the listed values` };
      if (kind === 'boolean' && typeof args[name] !== 'boolean') return { error: `${name} must be true or false` };
    }
  }
  return { args };
}
