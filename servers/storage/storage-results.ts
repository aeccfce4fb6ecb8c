import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

/** A successful tool result: JSON for objects, plain text for strings. */
export function ok(value: unknown): CallToolResult {
  return { content: [{ type: 'text', text: typeof value === 'string' ? value : JSON.stringify(value, null, 2) }] };
}

/** A tool error the model can read and act on; nothing was changed when a tool answers with one. */
export function refuse(message: string): CallToolResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}
