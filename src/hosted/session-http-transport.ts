import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { TransportSendOptions } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isJSONRPCErrorResponse, isJSONRPCResultResponse, type JSONRPCMessage, type RequestId } from '@modelcontextprotocol/sdk/types.js';
import { SessionEventStore } from './session-event-store';

/** Id of the stored `initialize` replayed into the server after a restart; its answer goes nowhere. */
export const RESTORE_REQUEST_ID = '__smcp_restore__';

/** The SDK transport's private state this subclass reads or restores (checked by the session tests). */
interface TransportInternals {
  sessionId?: string;
  _initialized: boolean;
  _requestToStreamMapping: Map<RequestId, string>;
  _streamMapping: Map<string, { cleanup(): void }>;
}

/**
 * Streamable HTTP served by the session's Durable Object itself: the official MCP SDK v1
 * web-standard transport (`WebStandardStreamableHTTPServerTransport`), one per session object, so
 * the gate hands a request to the object in one `fetch` and the object answers it directly
 * (JSON-RPC answers, server-to-client requests and notifications on the POST's SSE stream, the GET
 * stream, resumption with `Last-Event-ID`), with no WebSocket bridge in between.
 *
 * What this subclass adds to the SDK's transport, all of it about the object living longer or
 * shorter than one transport instance:
 * - the session id is the object's own (its name), fixed at construction;
 * - `restore()` marks a session initialized by an earlier incarnation (after eviction), and the
 *   answer to the replayed `initialize` (`RESTORE_REQUEST_ID`) is dropped;
 * - a POST stream's events are forgotten once its last response was written on the live stream
 *   (the framework's bridge did the same); a stream whose client went away keeps them for replay
 *   (session-event-store.ts);
 * - a new GET stream, or a resumption of a stream, supersedes the connection that served it so far
 *   instead of answering 409 (what the framework's bridge did), so a client that lost a stream
 *   without this side noticing can take it up again.
 */
export class SessionHttpTransport extends WebStandardStreamableHTTPServerTransport {
  private readonly events: SessionEventStore;

  constructor(sessionId: string, storage: DurableObjectStorage) {
    const events = new SessionEventStore(storage);
    super({ sessionIdGenerator: () => sessionId, eventStore: events });
    this.events = events;
  }

  private get internals(): TransportInternals {
    return this as unknown as TransportInternals;
  }

  /** The session was initialized by an earlier incarnation of the object: accept its requests again. */
  restore(sessionId: string): void {
    this.internals.sessionId = sessionId;
    this.internals._initialized = true;
  }

  override async handleRequest(request: Request, options?: Parameters<WebStandardStreamableHTTPServerTransport['handleRequest']>[1]): Promise<Response> {
    if (request.method === 'GET') {
      // A client reconnects when its stream broke, whether or not this side noticed: the newest wins.
      const lastEventId = request.headers.get('last-event-id');
      if (!lastEventId) this.closeStandaloneSSEStream();
      else this.internals._streamMapping.get(lastEventId.slice(0, Math.max(0, lastEventId.lastIndexOf(':'))))?.cleanup();
    }
    return super.handleRequest(request, options);
  }

  override async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const isResponse = isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message);
    const requestId = isResponse ? message.id : options?.relatedRequestId;
    if (requestId === RESTORE_REQUEST_ID) return;
    const streamId = isResponse && requestId !== undefined ? this.internals._requestToStreamMapping.get(requestId) : undefined;
    const live = streamId !== undefined && this.internals._streamMapping.has(streamId);
    await super.send(message, options);
    // The stream's last response is written and the stream closed: nothing left to resume.
    if (streamId !== undefined && live && !this.internals._requestToStreamMapping.has(requestId!) && !this.internals._streamMapping.has(streamId)) {
      this.events.clearStream(streamId);
    }
  }
}
