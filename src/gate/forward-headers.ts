import { CLIENT_IP_FORWARD_HEADER, CORRELATION_FORWARD_HEADER, PRINCIPAL_HEADER } from '../hosted/principal';
import { MODULE_HEADER } from '../tenant-servers/module-ref';

/**
 * Which request headers may travel from a client into a session's Durable Object, by allowlist.
 *
 * The Agents SDK treats some request headers as internal instructions inside the object
 * (`x-cf-agents-subagent-url` routes a connection into another class's facet,
 * `x-agents-lifecycle-props` replaces the object's props, `cf-mcp-method`/`cf-mcp-message` carry
 * the bridged request), so forwarding "everything but credentials" let a client steer the
 * framework (issue 13, finding 1). Only what the MCP transports read is forwarded; everything the
 * platform adds is set by the gate after this filter. Both protocol lanes use this one list.
 *
 * What the transports read (the SDK v1 Streamable HTTP transport the session object serves itself,
 * src/hosted/session-http.ts, and agents 0.32's `McpAgent.serveSSE` for legacy SSE, in
 * node_modules/agents/dist/mcp/index.js): `accept` (POST and GET require it), `content-type` (POST), `mcp-session-id`,
 * `mcp-protocol-version`, `last-event-id` (GET resumption). `content-length` is not forwarded:
 * the gate re-sends a bounded body whose length the runtime sets. Legacy SSE reads the session id
 * from the query string and nothing else.
 */
export const TRANSPORT_HEADERS: readonly string[] = ['accept', 'content-type', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id'];

/** Headers only the gate sets (never copied from a client): the principal, audit context and a deployed module's version. */
export const PLATFORM_HEADERS: readonly string[] = [PRINCIPAL_HEADER, CORRELATION_FORWARD_HEADER, CLIENT_IP_FORWARD_HEADER, MODULE_HEADER];

/**
 * Headers the SDK's own Worker-side handler adds when it bridges a legacy SSE stream to the object
 * over a WebSocket (`McpAgent.serveSSE`): it sets each of them itself, after copying the headers it
 * was given. Streamable HTTP no longer goes through that bridge (src/gate/session-route.ts).
 */
export const SDK_BRIDGE_HEADERS: readonly string[] = ['cf-mcp-method', 'cf-mcp-message', 'upgrade'];

const TRANSPORT = new Set(TRANSPORT_HEADERS);
// `content-length` is the runtime's own, for the bounded body the gate re-sends (never a client's: see TRANSPORT_HEADERS).
const INSIDE_OBJECT = new Set([...TRANSPORT_HEADERS, ...PLATFORM_HEADERS, ...SDK_BRIDGE_HEADERS, 'content-length']);

/** The client's headers a transport needs, and nothing else (names lower-cased). */
export function transportHeaders(client: Headers): Headers {
  const out = new Headers();
  for (const name of TRANSPORT) {
    const value = client.get(name);
    if (value !== null) out.set(name, value);
  }
  return out;
}

/**
 * What the 2026-07-28 lane's SDK handler reads (in the Worker, no object): the transport's own
 * headers and the revision's mirrors of the body (`Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`, checked
 * by the SDK against the body). No session id: that revision has none. Kept here so one module
 * lists every header a client may send past the gate.
 */
export const MODERN_TRANSPORT_HEADERS: readonly string[] = ['accept', 'content-type', 'mcp-protocol-version', 'mcp-method', 'mcp-name'];
const MODERN = new Set(MODERN_TRANSPORT_HEADERS);
const MODERN_PARAM_PREFIX = 'mcp-param-';

/** The client's headers the stateless lane's SDK handler needs, and nothing else (names lower-cased). */
export function modernTransportHeaders(client: Headers): Headers {
  const out = new Headers();
  for (const [name, value] of client) if (MODERN.has(name) || name.startsWith(MODERN_PARAM_PREFIX)) out.set(name, value);
  return out;
}

/**
 * Inside the object, defence in depth behind the gate: the headers a forwarded request may carry
 * (transport, platform and the SDK's bridge headers). Returns the request unchanged when it holds
 * nothing else, otherwise a copy with only those.
 */
export function confineObjectRequest(request: Request): Request {
  let clean = true;
  for (const name of request.headers.keys()) {
    if (!INSIDE_OBJECT.has(name)) {
      clean = false;
      break;
    }
  }
  if (clean) return request;
  const headers = new Headers();
  for (const [name, value] of request.headers) if (INSIDE_OBJECT.has(name)) headers.set(name, value);
  return new Request(request, { headers });
}
