import { SELF } from 'cloudflare:test';
import { ORIGIN, rpcMessages } from './platform-client';

/** The 2026-07-28 revision these helpers speak. */
export const MODERN = '2026-07-28';

/** The per-request `_meta` envelope of a 2026-07-28 request. */
export function envelope(capabilities: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientInfo': { name: 'worker-test', version: '1' },
    'io.modelcontextprotocol/clientCapabilities': capabilities,
  };
}

let nextId = 1;

/**
 * One stateless 2026-07-28 request to `/servers/<server>/mcp`: the envelope in `_meta`, mirrored in
 * the MCP-Protocol-Version, Mcp-Method and Mcp-Name headers. Returns the HTTP status, the answer
 * message and the response (headers).
 */
export async function modernCall(
  server: string,
  token: string | null,
  method: string,
  params: Record<string, unknown> = {},
  opts: { capabilities?: Record<string, unknown>; headers?: Record<string, string> } = {},
): Promise<{ status: number; message: any; response: Response }> {
  const id = nextId++;
  const name = typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': MODERN,
    'mcp-method': method,
    ...(name ? { 'mcp-name': name } : {}),
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...opts.headers,
  };
  const body = { jsonrpc: '2.0', id, method, params: { ...params, _meta: { ...envelope(opts.capabilities), ...((params._meta as object) ?? {}) } } };
  const response = await SELF.fetch(`${ORIGIN}/servers/${server}/mcp`, { method: 'POST', headers, body: JSON.stringify(body) });
  const messages = await rpcMessages(response.clone());
  return { status: response.status, message: messages.find((m) => m.id === id) ?? messages[0], response };
}

/** The parsed JSON of a tool result's first text block. */
export const textOf = (message: any): string => message?.result?.content?.[0]?.text;
