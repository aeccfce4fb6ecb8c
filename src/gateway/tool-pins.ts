import { toHex } from '../crypto/secrets';

/**
 * Tool pinning: the platform stores a SHA-256 of each upstream tool's definition when the tenant
 * approves the upstream (registration is the first approval), and blocks calls to any tool whose
 * definition no longer matches (a changed description or schema) or that appeared since, until an
 * admin re-approves. This defends against tool-definition drift ("rug pulls").
 */

/** The parts of a tool definition that are pinned: everything a model reads or a client validates. */
export interface PinnableTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: unknown;
}

export type PinStatus = 'approved' | 'drifted' | 'unapproved';

/** JSON with object keys sorted at every level, so equal definitions hash equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** SHA-256 (hex) of a tool's pinned parts. */
export async function toolHash(tool: PinnableTool): Promise<string> {
  const { name, title, description, inputSchema, outputSchema, annotations } = tool;
  const bytes = new TextEncoder().encode(canonicalJson({ name, title, description, inputSchema, outputSchema, annotations }));
  return toHex(await crypto.subtle.digest('SHA-256', bytes));
}

/** A tool's status against the stored pins (upstream tool name → hash). */
export function pinStatus(pins: Record<string, string>, name: string, hash: string): PinStatus {
  if (!Object.hasOwn(pins, name)) return 'unapproved';
  return pins[name] === hash ? 'approved' : 'drifted';
}
