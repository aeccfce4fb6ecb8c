import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { DEFAULT_OUTBOUND_TIMEOUT_MS, fetchWithTimeout } from '../http/fetch-with-timeout';
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

/** JSON-RPC error codes the gateway uses for upstream faults (server-defined range). */
export const GatewayCode = {
  Unavailable: -32010,
  Oversize: -32011,
  Malformed: -32012,
  Drift: -32013,
  NotOffered: -32014,
} as const;

/** The upstream could not be reached or dropped the connection: retryable, and a breaker failure. */
export class UpstreamFault extends Error {
  override name = 'UpstreamFault';
}

export interface FetchGuard {
  maxResponseBytes: number;
  allowPrivate: boolean;
  /** Extra headers (credentials) added to every request. */
  headers: () => Promise<Record<string, string>>;
  /** Deadline for the upstream's response headers (the platform's outbound-call bound; SDK request timeouts apply on top). */
  timeoutMs?: number;
}

const encoder = new TextEncoder();
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

function errorMessage(id: string | number, code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } });
}

function validMessage(text: string): { id?: unknown } | null {
  try {
    const parsed = JSON.parse(text) as unknown;
    return JSONRPCMessageSchema.safeParse(parsed).success ? (parsed as { id?: unknown }) : null;
  } catch {
    return null;
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
    return fail(GatewayCode.Oversize, `Upstream response exceeds the ${max}-byte limit`);
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
        return fail(GatewayCode.Oversize, `Upstream response exceeds the ${max}-byte limit`);
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

/**
 * Pass an SSE response through event by event: each event's data must be a JSON-RPC message (else
 * it is replaced by an error for the pending request), the total may not exceed `max`, and when the
 * stream ends or drops before every request was answered, the missing answers become errors.
 */
function boundedStream(response: Response, ids: Array<string | number>, max: number): Response {
  const pending = new Set(ids);
  let size = 0;
  let buffer = '';
  let finished = false;
  const source = response.body!.getReader();
  const emit = (controller: ReadableStreamDefaultController<Uint8Array>, data: string) =>
    controller.enqueue(encoder.encode(`event: message\ndata: ${data}\n\n`));
  const failPending = (controller: ReadableStreamDefaultController<Uint8Array>, code: number, message: string) => {
    for (const id of pending) emit(controller, errorMessage(id, code, message));
    pending.clear();
    finished = true;
    controller.close();
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (finished) return;
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await source.read();
      } catch {
        return failPending(controller, GatewayCode.Unavailable, 'Upstream dropped the connection before answering');
      }
      if (chunk.done) {
        if (pending.size > 0) return failPending(controller, GatewayCode.Malformed, 'Upstream closed the stream without answering');
        finished = true;
        return controller.close();
      }
      size += chunk.value.byteLength;
      if (size > max) {
        await source.cancel().catch(() => undefined);
        return failPending(controller, GatewayCode.Oversize, `Upstream response exceeds the ${max}-byte limit`);
      }
      buffer += decoder.decode(chunk.value, { stream: true });
      const events = buffer.replace(/\r\n/g, '\n').split('\n\n');
      buffer = events.pop() ?? '';
      for (const event of events) {
        const data = eventData(event.split('\n'));
        if (!data) {
          controller.enqueue(encoder.encode(`${event}\n\n`)); // comments, retry hints, priming events
          continue;
        }
        const message = validMessage(data);
        if (!message) return failPending(controller, GatewayCode.Malformed, 'Upstream sent a malformed JSON-RPC message');
        settle(pending, message);
        controller.enqueue(encoder.encode(`${event}\n\n`));
      }
      if (pending.size === 0 && buffer.trim() === '') {
        finished = true;
        await source.cancel().catch(() => undefined);
        controller.close();
      }
    },
    cancel: (reason) => source.cancel(reason),
  });
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  return new Response(body, { status: response.status, headers });
}

/** The data of one server-sent event: its `data:` lines joined (empty for comments, retry hints and priming events). */
function eventData(lines: string[]): string {
  return lines
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).replace(/^ /, ''))
    .join('\n');
}

/** An answer (a message with an id and no method) takes its request off the waiting set. */
function settle(pending: Set<string | number>, message: { id?: unknown }): void {
  if ((typeof message.id === 'string' || typeof message.id === 'number') && !('method' in message)) pending.delete(message.id);
}

/**
 * A long-lived GET event stream (legacy SSE answers, Streamable HTTP server notifications): each
 * event is bounded by `maxResponseBytes` and must be a well-formed JSON-RPC message (the legacy
 * `endpoint` event excepted). An oversize or malformed event fails every request still waiting for
 * an answer on this stream with -32011 / -32012 and closes the stream (the session reconnects on
 * its next call), instead of leaving them to time out or buffering without bound.
 */
function guardedEventStream(response: Response, pending: Set<string | number>, max: number): Response {
  let buffer = '';
  let finished = false;
  const source = response.body!.getReader();
  const emit = (controller: ReadableStreamDefaultController<Uint8Array>, data: string) =>
    controller.enqueue(encoder.encode(`event: message\ndata: ${data}\n\n`));
  const failPending = async (controller: ReadableStreamDefaultController<Uint8Array>, code: number, message: string) => {
    for (const id of pending) emit(controller, errorMessage(id, code, message));
    pending.clear();
    finished = true;
    await source.cancel().catch(() => undefined);
    controller.close();
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (finished) return;
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await source.read();
      } catch {
        return failPending(controller, GatewayCode.Unavailable, 'Upstream dropped the event stream before answering');
      }
      if (chunk.done) {
        finished = true;
        return controller.close();
      }
      buffer += decoder.decode(chunk.value, { stream: true });
      const events = buffer.replace(/\r\n/g, '\n').split('\n\n');
      buffer = events.pop() ?? '';
      if (buffer.length > max) return failPending(controller, GatewayCode.Oversize, `Upstream response exceeds the ${max}-byte limit`);
      for (const event of events) {
        const lines = event.split('\n');
        const kind =
          lines
            .find((l) => l.startsWith('event:'))
            ?.slice(6)
            .trim() ?? 'message';
        const data = eventData(lines);
        if (event.length > max) return failPending(controller, GatewayCode.Oversize, `Upstream response exceeds the ${max}-byte limit`);
        if (data && kind === 'message') {
          const message = validMessage(data);
          if (!message) return failPending(controller, GatewayCode.Malformed, 'Upstream sent a malformed JSON-RPC message');
          settle(pending, message);
        }
        controller.enqueue(encoder.encode(`${event}\n\n`));
      }
    },
    cancel: (reason) => source.cancel(reason),
  });
  return new Response(body, { status: response.status, headers: new Headers(response.headers) });
}
