import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import { errorMessage, GatewayCode, oversizeMessage } from './upstream-errors';

/**
 * The two event-stream guards of the guarded fetch (`upstream-fetch.ts`), on one relay. Both pass
 * the upstream's server-sent events through as they arrive, check that each message is JSON-RPC,
 * and turn a failure into error answers for the requests still waiting on the stream instead of a
 * hang. What they share (reading, cutting the text into events, settling answers, failing the
 * waiting requests, ending the stream) lives in `SseRelay`; what differs is each guard's policy,
 * kept in view as its own short function rather than behind a mode flag:
 * - a POST's answer stream (`boundedStream`): bounded in total, every data event checked, ended
 *   once every request is answered, and an early end is an error;
 * - a long-lived GET stream (`guardedEventStream`): bounded per event, only `message` events
 *   checked, a clean end is just an end, and any failure also stops reading the upstream.
 */

type Waiting = Set<string | number>;
type Controller = ReadableStreamDefaultController<Uint8Array>;

const encoder = new TextEncoder();

/** One upstream event stream being relayed to the client, with the requests waiting for answers on it. */
class SseRelay {
  private buffer = '';
  private finished = false;
  /** Per relay: a streaming decoder holds a character split across chunks, which must not meet another stream's bytes. */
  private readonly decoder = new TextDecoder();
  private readonly source: ReadableStreamDefaultReader<Uint8Array>;

  constructor(
    response: Response,
    readonly pending: Waiting,
  ) {
    this.source = response.body!.getReader();
  }

  /** The guarded body: `pull` applies the guard's policy to each chunk until the stream ends; a client's cancel reaches the upstream. */
  body(pull: (controller: Controller) => Promise<void>): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (!this.finished) await pull(controller);
      },
      cancel: (reason) => this.source.cancel(reason),
    });
  }

  /** The upstream's next chunk, `done` at its end, or `dropped` when the connection failed. */
  async read(): Promise<Uint8Array | 'done' | 'dropped'> {
    try {
      const chunk = await this.source.read();
      return chunk.done ? 'done' : chunk.value;
    } catch {
      return 'dropped';
    }
  }

  /** The events a chunk completes; the unfinished rest stays buffered (`rest`). */
  events(chunk: Uint8Array): string[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    const events = this.buffer.replace(/\r\n/g, '\n').split('\n\n');
    this.buffer = events.pop() ?? '';
    return events;
  }

  /** The text of the event not yet complete. */
  get rest(): string {
    return this.buffer;
  }

  /** A message event's data: false unless it is a JSON-RPC message; an answer takes its request off the waiting set. */
  accept(data: string): boolean {
    const message = validMessage(data);
    if (!message) return false;
    if ((typeof message.id === 'string' || typeof message.id === 'number') && !('method' in message)) this.pending.delete(message.id);
    return true;
  }

  /** Pass one event on as the upstream sent it. */
  pass(controller: Controller, event: string): void {
    controller.enqueue(encoder.encode(`${event}\n\n`));
  }

  /** Answer every waiting request with this error, then end the stream (`cancel`: also stop reading the upstream). */
  async fail(controller: Controller, code: number, message: string, cancel: boolean): Promise<void> {
    for (const id of this.pending) controller.enqueue(encoder.encode(`event: message\ndata: ${errorMessage(id, code, message)}\n\n`));
    this.pending.clear();
    await this.end(controller, cancel);
  }

  /** End the stream to the client (`cancel`: also stop reading the upstream). */
  async end(controller: Controller, cancel: boolean): Promise<void> {
    this.finished = true;
    if (cancel) await this.source.cancel().catch(() => undefined);
    controller.close();
  }
}

/**
 * A POST's answer as an SSE stream, passed through event by event: each event's data must be a
 * JSON-RPC message (else it is replaced by an error for the pending requests), the total may not
 * exceed `max`, and when the stream ends or drops before every request was answered, the missing
 * answers become errors. Once every request is answered, the stream ends.
 */
export function boundedStream(response: Response, ids: Array<string | number>, max: number): Response {
  const relay = new SseRelay(response, new Set(ids));
  let size = 0;
  const body = relay.body(async (controller) => {
    const chunk = await relay.read();
    if (chunk === 'dropped') return relay.fail(controller, GatewayCode.Unavailable, 'Upstream dropped the connection before answering', false);
    if (chunk === 'done') {
      if (relay.pending.size > 0) return relay.fail(controller, GatewayCode.Malformed, 'Upstream closed the stream without answering', false);
      return relay.end(controller, false);
    }
    size += chunk.byteLength;
    if (size > max) return relay.fail(controller, GatewayCode.Oversize, oversizeMessage(max), true);
    for (const event of relay.events(chunk)) {
      const data = eventData(event.split('\n')); // empty for comments, retry hints, priming events: passed as they are
      if (data && !relay.accept(data)) return relay.fail(controller, GatewayCode.Malformed, 'Upstream sent a malformed JSON-RPC message', false);
      relay.pass(controller, event);
    }
    if (relay.pending.size === 0 && relay.rest.trim() === '') await relay.end(controller, true);
  });
  const headers = new Headers(response.headers);
  headers.delete('content-length');
  return new Response(body, { status: response.status, headers });
}

/**
 * A long-lived GET event stream (legacy SSE answers, Streamable HTTP server notifications): each
 * event is bounded by `maxResponseBytes` and must be a well-formed JSON-RPC message (the legacy
 * `endpoint` event excepted). An oversize or malformed event fails every request still waiting for
 * an answer on this stream (`pending`, shared with the fetch that sent them) with -32011 / -32012
 * and closes the stream (the session reconnects on its next call), instead of leaving them to time
 * out or buffering without bound.
 */
export function guardedEventStream(response: Response, pending: Waiting, max: number): Response {
  const relay = new SseRelay(response, pending);
  const body = relay.body(async (controller) => {
    const chunk = await relay.read();
    if (chunk === 'dropped') return relay.fail(controller, GatewayCode.Unavailable, 'Upstream dropped the event stream before answering', true);
    if (chunk === 'done') return relay.end(controller, false);
    const events = relay.events(chunk);
    if (relay.rest.length > max) return relay.fail(controller, GatewayCode.Oversize, oversizeMessage(max), true);
    for (const event of events) {
      const lines = event.split('\n');
      const kind =
        lines
          .find((l) => l.startsWith('event:'))
          ?.slice(6)
          .trim() ?? 'message';
      const data = eventData(lines);
      if (event.length > max) return relay.fail(controller, GatewayCode.Oversize, oversizeMessage(max), true);
      if (data && kind === 'message' && !relay.accept(data))
        return relay.fail(controller, GatewayCode.Malformed, 'Upstream sent a malformed JSON-RPC message', true);
      relay.pass(controller, event);
    }
  });
  return new Response(body, { status: response.status, headers: new Headers(response.headers) });
}

function validMessage(text: string): { id?: unknown } | null {
  try {
    const parsed = JSON.parse(text) as unknown;
    return JSONRPCMessageSchema.safeParse(parsed).success ? (parsed as { id?: unknown }) : null;
  } catch {
    return null;
  }
}

/** The data of one server-sent event: its `data:` lines joined (empty for comments, retry hints and priming events). */
function eventData(lines: string[]): string {
  return lines
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).replace(/^ /, ''))
    .join('\n');
}
