import { gateMcpRequest, type GateTarget } from '../gate/mcp-gate';
import type { GrantProps } from '../gate/principal-resolver';
import { requestContext } from '../observability/request-context';

/**
 * The playground's MCP client. It does not call a server directly: every message is a real
 * Streamable HTTP request handed to the platform gate (`gateMcpRequest`), with the signed-in
 * user's identity as OAuth grant props, exactly what `/servers/<name>/mcp` does after validating a
 * token. So the gate re-reads the user's role and the tenant's state, applies rate limits and the
 * session quota, binds the session to its owner, and the server's choke point filters `tools/list`
 * and enforces each tool's policy and records the audit event: the playground gets nothing a
 * client with the same role would not. One short session per page: initialize, the requests, DELETE.
 */

/** The OAuth client id the playground's sessions carry (audit `client`, session ownership). */
export const PLAYGROUND_CLIENT_ID = 'smcp-dashboard-playground';
const PROTOCOL_VERSION = '2025-06-18';

export type RpcOutcome = { ok: true; result: unknown } | { ok: false; status: number; code: number; message: string };

interface JsonRpcMessage {
  id?: unknown;
  result?: unknown;
  error?: { code?: unknown; message?: unknown };
}

/** JSON-RPC messages out of a Streamable HTTP answer (an SSE stream or a JSON body). */
async function messagesOf(response: Response): Promise<JsonRpcMessage[]> {
  const text = await response.text();
  if (!text) return [];
  try {
    if (!response.headers.get('content-type')?.includes('text/event-stream')) return [JSON.parse(text) as JsonRpcMessage].flat();
    return text
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => JSON.parse(line.slice(5).trim()) as JsonRpcMessage);
  } catch {
    return [];
  }
}

/** A session of the signed-in user on one hosted server, through the gate. */
export class PlaygroundSession {
  private sessionId: string | null = null;
  private nextId = 1;

  private constructor(
    private readonly env: Env,
    private readonly target: GateTarget,
    private readonly grant: GrantProps,
    private readonly origin: string,
  ) {}

  /** Open a session (initialize + notifications/initialized); the refusal when the gate or server says no. */
  static async open(env: Env, origin: string, target: GateTarget, grant: GrantProps): Promise<PlaygroundSession | Extract<RpcOutcome, { ok: false }>> {
    const session = new PlaygroundSession(env, target, grant, origin);
    const init = await session.request('initialize', {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: 'smcp-dashboard-playground', version: '1' },
    });
    if (!init.ok) return init;
    await session.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return session;
  }

  /** One JSON-RPC request in this session. */
  async request(method: string, params: unknown): Promise<RpcOutcome> {
    const id = this.nextId++;
    const response = await this.send({ jsonrpc: '2.0', id, method, params });
    if (!this.sessionId) this.sessionId = response.headers.get('mcp-session-id');
    const messages = await messagesOf(response);
    const message = messages.find((m) => m.id === id) ?? messages[0];
    if (message?.error) {
      const code = typeof message.error.code === 'number' ? message.error.code : -32603;
      return { ok: false, status: response.status, code, message: String(message.error.message ?? 'Request failed').slice(0, 2000) };
    }
    if (!response.ok || !message) return { ok: false, status: response.status, code: -32603, message: `HTTP ${response.status}` };
    return { ok: true, result: message.result };
  }

  /** End the session (frees the caller's session slot, ships the session's audit outbox). */
  async close(): Promise<void> {
    if (!this.sessionId) return;
    const response = await this.send(null, 'DELETE').catch(() => null);
    await response?.body?.cancel();
    this.sessionId = null;
  }

  private send(body: unknown, method: 'POST' | 'DELETE' = 'POST'): Promise<Response> {
    const headers = new Headers({ accept: 'application/json, text/event-stream', 'mcp-protocol-version': PROTOCOL_VERSION });
    if (method === 'POST') headers.set('content-type', 'application/json');
    if (this.sessionId) headers.set('mcp-session-id', this.sessionId);
    const request = new Request(`${this.origin}/servers/${this.target.server.name}/mcp`, {
      method,
      headers,
      body: method === 'POST' ? JSON.stringify(body) : undefined,
    });
    const ctx = requestContext()?.ctx;
    if (!ctx) throw new Error('the playground runs inside a Worker request');
    return gateMcpRequest(request, this.env, ctx, this.target, this.grant, PLAYGROUND_CLIENT_ID);
  }
}
