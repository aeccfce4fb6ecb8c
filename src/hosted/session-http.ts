import { isInitializeRequest, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { rpcError, RpcCode } from '../http/responses';
import type { SessionHttpTransport } from './session-http-transport';

/** What the session object lends the Streamable HTTP entry. */
export interface SessionHttpHost {
  transport: SessionHttpTransport;
  /** Whether the session exists: initialized and not ended (DELETE, eviction, dashboard End). */
  live(): Promise<boolean>;
  /** An `initialize` (in `request`) is about to be served: remember it (restarts replay it) and mark the session live. */
  opening(initialize: JSONRPCMessage, request: Request): Promise<void>;
  /** The owner's DELETE: end the session (the framework's deferred teardown). */
  terminate(): Promise<void>;
}

const notFound = () => rpcError(404, RpcCode.SessionNotFound, 'Session not found');

/**
 * A 2025-era Streamable HTTP request inside its session object, handed over by the gate in one
 * `fetch` (src/gate/session-route.ts), after every gate check (token, principal, limits, signed
 * owner-bound session id, header allowlist). POST and GET go to the SDK transport, which answers
 * on SSE streams; DELETE ends the session like the framework did (stored initialize cleared, storage
 * deleted from the alarm) and answers 204. A session that was never opened here, or has ended, is
 * "Session not found" (404, -32001) for every method, so an ended session's id is unknown at once.
 */
export async function serveSessionHttp(host: SessionHttpHost, request: Request): Promise<Response> {
  switch (request.method) {
    case 'POST': {
      let parsed: unknown;
      try {
        parsed = await request.json();
      } catch {
        return rpcError(400, RpcCode.ParseError, 'Parse error: Invalid JSON');
      }
      // The schema check only for a message that names the method (by profile, running it on every message cost a hundredth of the lane).
      const initialize = (Array.isArray(parsed) ? parsed : [parsed]).find(
        (m) => (m as { method?: unknown } | null)?.method === 'initialize' && isInitializeRequest(m),
      ) as JSONRPCMessage | undefined;
      if (initialize) {
        // The gate opens a session only with a fresh id, so this object has never served one.
        if (await host.live()) return rpcError(400, RpcCode.InvalidRequest, 'Invalid Request: Server already initialized');
        await host.opening(initialize, request);
      } else if (!(await host.live())) return notFound();
      return host.transport.handleRequest(request, { parsedBody: parsed });
    }
    case 'GET':
      if (!(await host.live())) return notFound();
      return host.transport.handleRequest(request);
    case 'DELETE':
      if (!(await host.live())) return notFound();
      await host.terminate();
      return new Response(null, { status: 204 });
    default:
      return rpcError(405, RpcCode.InvalidRequest, 'Method not allowed: use POST, GET or DELETE', { Allow: 'GET, POST, DELETE' });
  }
}
