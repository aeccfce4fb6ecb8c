import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { DEFAULT_OUTBOUND_TIMEOUT_MS, fetchWithTimeout } from '../http/fetch-with-timeout';
import { boundedStream, guardedEventStream } from './sse-guard';
import { errorMessage, GatewayCode, oversizeMessage, UpstreamFault } from './upstream-errors';
import { upstreamUrlProblem } from './upstream-url';

/**
 * The fetch every upstream transport uses. It turns the upstream's worst behaviour into clear
 * JSON-RPC errors for the request that suffered it, instead of a hang until the timeout:
 * - unreachable host or dropped connection → `UpstreamFault` (counts against the breaker, retryable);
 * - an answer larger than `maxResponseBytes` → error `OVERSIZE` for the pending request(s);
 * - malformed JSON-RPC, or a stream that ends without answering → error `MALFORMED`;
 * - redirects are not followed (a redirect could lead to a private address).
 * Every URL is re-checked against the private-address rule before the request leaves.
 */

export interface FetchGuard {
  maxResponseBytes: number;
  allowPrivate: boolean;
  /** Extra headers (credentials) added to every request. */
  headers: () => Promise<Record<string, string>>;
  /** Deadline for the upstream's response headers (the platform's outbound-call bound; SDK request timeouts apply on top). */
  timeoutMs?: number;
}

const decoder = new TextDecoder();

function requestIds(body: unknown): Array<string | number> {
  if (typeof body !== 'string') return [];
  try {
    const parsed = JSON.parse(body) as unknown;
    const list = Array.isArray(parsed) ? parsed : [parsed];
    return list.flatMap((m) =>
      m && typeof m === 'object' && 'method' in m && 'id' in m && (typeof m.id === 'string' || typeof m.id === 'number') ? [m.id] : [],
    );
  } catch {
    return [];
  }
}

/** Build the guarded fetch for one upstream. */
export function guardedFetch(guard: FetchGuard): typeof fetch {
  // Legacy SSE: a POST is answered 202 and its answer comes on the long-lived GET stream, so the
  // ids of requests accepted that way are remembered until the stream answers them.
  const legacyPending = new Set<string | number>();
  return async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    const problem = upstreamUrlProblem(url, guard.allowPrivate);
    if (problem) throw new UpstreamFault(`upstream URL refused: ${problem}`);
    const headers = new Headers(init?.headers);
    for (const [k, v] of Object.entries(await guard.headers())) headers.set(k, v);
    let response: Response;
    try {
      response = await fetchWithTimeout(url, { ...init, headers, redirect: 'manual' }, guard.timeoutMs ?? DEFAULT_OUTBOUND_TIMEOUT_MS);
    } catch (error) {
      if (init?.signal?.aborted) throw error;
      throw new UpstreamFault(`upstream unreachable: ${error instanceof Error ? error.message : String(error)}`);
    }
    const ids = init?.method === 'POST' ? requestIds(init.body) : [];
    const type0 = response.headers.get('content-type') ?? '';
    if ((init?.method ?? 'GET') === 'GET' && response.ok && response.body && type0.includes('text/event-stream'))
      return guardedEventStream(response, legacyPending, guard.maxResponseBytes);
    if (response.status === 202) for (const id of ids) legacyPending.add(id);
    if (!response.ok || ids.length === 0 || !response.body) return response;
    const type = response.headers.get('content-type') ?? '';
    if (type.includes('application/json')) return boundedJson(response, ids, guard.maxResponseBytes);
    if (type.includes('text/event-stream')) return boundedStream(response, ids, guard.maxResponseBytes);
    return response;
  };
}

async function boundedJson(response: Response, ids: Array<string | number>, max: number): Promise<Response> {
  const fail = (code: number, message: string) =>
    jsonResponse(response, ids.length === 1 ? errorMessage(ids[0]!, code, message) : `[${ids.map((id) => errorMessage(id, code, message)).join(',')}]`);
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > max) {
    await response.body?.cancel();
    return fail(GatewayCode.Oversize, oversizeMessage(max));
  }
  const reader = response.body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > max) {
        await reader.cancel();
        return fail(GatewayCode.Oversize, oversizeMessage(max));
      }
      chunks.push(value);
    }
  } catch (error) {
    throw new UpstreamFault(`upstream dropped the connection: ${error instanceof Error ? error.message : String(error)}`);
  }
  const text = decoder.decode(concat(chunks, size));
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail(GatewayCode.Malformed, 'Upstream sent malformed JSON');
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (!list.every((m) => JSONRPCMessageSchema.safeParse(m).success)) return fail(GatewayCode.Malformed, 'Upstream sent a malformed JSON-RPC message');
  return jsonResponse(response, text);
}

/** A JSON body in place of the upstream's, keeping its headers (the session id travels in one). */
function jsonResponse(original: Response, text: string): Response {
  const headers = new Headers(original.headers);
  headers.delete('content-length');
  headers.set('content-type', 'application/json');
  return new Response(text, { status: 200, headers });
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
