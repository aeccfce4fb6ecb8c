import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { GatewayCode, UpstreamFault } from './upstream-errors';
import { guardedFetch } from './upstream-fetch';
import type { UpstreamTarget } from './upstream-connection';

/**
 * The gateway as a 2026-07-28 *client* of an upstream: no `initialize`, no session; every request
 * is one POST carrying the `_meta` envelope (protocol version, client info, client capabilities),
 * mirrored in the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers. Requests go through
 * the same guarded fetch as the 2025 transports (outbound URL rule, credential headers, size
 * limit, malformed-answer guard, no redirects, response deadline), so the outbound rules are one.
 */

export const MODERN_VERSION = '2026-07-28';

/** Which handshake an upstream replica speaks: the stateless 2026-07-28 revision, or the 2025 `initialize` + session. */
export type UpstreamEra = typeof MODERN_VERSION | '2025';

const CLIENT_INFO = { name: 'smcp-gateway', version: '0.1.0' };
/** What `Mcp-Name` mirrors, per method (the revision's table). */
const NAME_SOURCE: Record<string, string> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

export interface ModernRequestOptions {
  signal?: AbortSignal;
  /** The capabilities the gateway declares in the envelope (elicitation and sampling, which it relays or answers). */
  capabilities?: Record<string, unknown>;
  onNotification?: (notification: { method: string; params?: Record<string, unknown> }) => void;
  /** Hard deadline for the whole answer (default: the upstream's `responseTimeoutMs`). */
  timeoutMs?: number;
}

let nextId = 1;

/** `Mcp-Name` value: plain ASCII passes, anything else travels in the revision's Base64 sentinel. */
function headerValue(value: string): string {
  const plain = value.length > 0 && value === value.trim() && /^[\t\x20-\x7e]*$/.test(value) && !(value.startsWith('=?base64?') && value.endsWith('?='));
  if (plain) return value;
  let bin = '';
  for (const b of new TextEncoder().encode(value)) bin += String.fromCharCode(b);
  return `=?base64?${btoa(bin)}?=`;
}

/**
 * One stateless request to a 2026-07-28 upstream. Resolves to the result object (which may be
 * `resultType: "input_required"`); rejects with the upstream's JSON-RPC error as an `McpError`
 * (not a fault), or an `UpstreamFault` when the upstream is unreachable, answered 5xx/429, or no
 * longer accepts the revision (so the caller's era cache is dropped and the replica re-probed).
 */
export async function modernRequest(
  target: UpstreamTarget,
  method: string,
  params: Record<string, unknown> = {},
  options: ModernRequestOptions = {},
): Promise<Record<string, unknown>> {
  const fetch = guardedFetch({
    maxResponseBytes: target.settings.maxResponseBytes,
    allowPrivate: target.allowPrivate,
    headers: async () => target.headers,
    timeoutMs: options.timeoutMs ?? target.settings.responseTimeoutMs,
  });
  const id = nextId++;
  const meta = (params._meta as Record<string, unknown> | undefined) ?? {};
  const body = {
    jsonrpc: '2.0',
    id,
    method,
    params: {
      ...params,
      _meta: {
        ...meta,
        'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
        'io.modelcontextprotocol/clientInfo': CLIENT_INFO,
        'io.modelcontextprotocol/clientCapabilities': options.capabilities ?? {},
      },
    },
  };
  const name = NAME_SOURCE[method] ? params[NAME_SOURCE[method]!] : undefined;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': MODERN_VERSION,
    'mcp-method': method,
    ...(typeof name === 'string' ? { 'mcp-name': headerValue(name) } : {}),
  };
  const limitMs = options.timeoutMs ?? target.settings.responseTimeoutMs;
  const deadline = AbortSignal.timeout(limitMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const response = await fetch(target.url, { method: 'POST', headers, body: JSON.stringify(body), signal }).catch((error: unknown) => {
    if (deadline.aborted) throw new UpstreamFault(`upstream did not answer ${method} within ${limitMs} ms`);
    throw error;
  });
  if (response.status >= 500 || response.status === 429) {
    await response.body?.cancel();
    throw new UpstreamFault(`upstream answered HTTP ${response.status} during ${method}`);
  }
  const type = response.headers.get('content-type') ?? '';
  let messages: Array<Record<string, unknown>>;
  try {
    messages = type.includes('text/event-stream') ? await readEvents(response, options) : [(await response.json()) as Record<string, unknown>];
  } catch (error) {
    if (error instanceof McpError || error instanceof UpstreamFault) throw error;
    if (deadline.aborted) throw new UpstreamFault(`upstream did not answer ${method} within ${limitMs} ms`);
    throw new McpError(GatewayCode.Malformed, `Upstream answered HTTP ${response.status} without a JSON-RPC message`);
  }
  const answer = messages.find((m) => m.id === id) ?? messages.find((m) => m.id === null && 'error' in m);
  if (!answer) throw new McpError(GatewayCode.Malformed, 'Upstream closed the stream without answering');
  const error = answer.error as { code?: unknown; message?: unknown; data?: unknown } | undefined;
  if (error) {
    // The upstream no longer takes this revision: a fault, so the replica's era is re-probed and the call retried where allowed.
    if (error.code === -32022) throw new UpstreamFault(`upstream no longer accepts ${MODERN_VERSION}: ${String(error.message).slice(0, 120)}`);
    // A 2025-only server asks for a session (SDK v1: -32001 "Session not found", -32000 "Server not initialized" / "Mcp-Session-Id
    // header is required"): the replica was downgraded, so this is a fault too and its era is probed again.
    if (error.code === -32001 || (error.code === -32000 && /session|initiali[sz]ed/i.test(String(error.message))))
      throw new UpstreamFault(`upstream expects a 2025 session: ${String(error.message).slice(0, 120)}`);
    throw new McpError(typeof error.code === 'number' ? error.code : GatewayCode.Malformed, String(error.message ?? 'Upstream error'), error.data);
  }
  const result = answer.result;
  if (!result || typeof result !== 'object') throw new McpError(GatewayCode.Malformed, 'Upstream sent a result that is not an object');
  return result as Record<string, unknown>;
}

/** Every JSON-RPC message of an SSE answer (already size- and shape-guarded), relaying notifications as they arrive. */
async function readEvents(response: Response, options: ModernRequestOptions): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  const decoder = new TextDecoder();
  const reader = response.body!.getReader();
  let buffer = '';
  const take = (event: string) => {
    const data = event
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (!data) return;
    const message = JSON.parse(data) as Record<string, unknown>;
    if (typeof message.method === 'string' && !('id' in message)) options.onNotification?.(message as { method: string });
    else out.push(message);
  };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const events = buffer.replace(/\r\n/g, '\n').split('\n\n');
    buffer = events.pop() ?? '';
    for (const event of events) take(event);
  }
  if (buffer.trim()) take(buffer);
  return out;
}

/**
 * Which era a replica speaks: `server/discover` (mandatory in 2026-07-28) answered with
 * 2026-07-28 among `supportedVersions` means modern; any other answer from a reachable upstream
 * (HTTP 4xx, a JSON-RPC error such as "method not found" or "session not found") means it only
 * speaks the 2025 handshake. Unreachable, 5xx and 429 reject (a fault: not cached, probed again).
 */
export async function probeEra(target: UpstreamTarget): Promise<UpstreamEra> {
  if (target.transport === 'sse') return '2025'; // the legacy HTTP+SSE transport predates the revision
  try {
    // Bounded like a 2025 connect (initialize): a probe holds up every caller waiting for this replica's era.
    const result = await modernRequest(target, 'server/discover', {}, { timeoutMs: target.settings.connectTimeoutMs });
    const versions = result.supportedVersions;
    return Array.isArray(versions) && versions.includes(MODERN_VERSION) ? MODERN_VERSION : '2025';
  } catch (error) {
    if (error instanceof UpstreamFault && /HTTP (5\d\d|429)|unreachable|dropped|did not answer|URL refused/.test(error.message)) throw error;
    return '2025';
  }
}

/**
 * A 2026-07-28 result as a plain result: without `resultType: "complete"`, the cache hints and the
 * upstream's serverInfo stamp, which describe the upstream's answer to the gateway, not the
 * gateway's answer to its client (the platform sets its own).
 */
export function plainResult(result: Record<string, unknown>): Record<string, unknown> {
  const { resultType, ttlMs: _t, cacheScope: _c, ...rest } = result;
  const meta = rest._meta as Record<string, unknown> | undefined;
  if (meta && 'io.modelcontextprotocol/serverInfo' in meta) {
    const { 'io.modelcontextprotocol/serverInfo': _s, ...others } = meta;
    if (Object.keys(others).length) rest._meta = others;
    else delete rest._meta;
  }
  return resultType === undefined || resultType === 'complete' ? rest : { ...rest, resultType };
}
