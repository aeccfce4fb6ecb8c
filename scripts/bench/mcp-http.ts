/**
 * The benchmark's own minimal MCP-over-HTTP client: node:http with a keep-alive agent (one
 * socket per concurrent session, reused), JSON or SSE response bodies, and nothing else, so the
 * load generator costs as little CPU as possible on a machine it shares with the servers.
 */
import { Agent, request } from 'node:http';

export interface Target {
  /** Variant name, for reports. */
  name: string;
  /** 127.0.0.1 port. */
  port: number;
  /** Host header (the platform's origin guard wants its public host). */
  host: string;
  path: string;
  /** Bearer token, or null for the floor. */
  token: string | null;
  /** Whether the target keeps sessions (everything but the floor and the modern lane). */
  sessions: boolean;
  /**
   * `2026-07-28`: the stateless lane. No `initialize` and no session: every request carries the
   * `_meta` envelope, mirrored in the MCP-Protocol-Version, Mcp-Method and Mcp-Name headers.
   */
  era?: '2026-07-28';
  /** The tool `callTool` calls (default the bench's trivial `echo`). */
  tool?: { name: string; arguments: Record<string, unknown> };
  /** CPU time its server processes have used so far, in ms (scripts/bench/memory.ts `cpuMs`); null where it cannot be read. */
  cpuMs?: () => number | null;
}

/** The per-request envelope of a 2026-07-28 request. */
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'smcp-bench', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

export interface RpcOutcome {
  ok: boolean;
  status: number;
  sessionId: string | null;
  /** Error text when !ok. */
  error?: string;
}

const agents = new Map<number, Agent>();

/** One keep-alive agent per port, sized for the largest concurrency. */
function agentFor(port: number): Agent {
  let agent = agents.get(port);
  if (!agent) {
    agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
    agents.set(port, agent);
  }
  return agent;
}

/** Close idle keep-alive sockets (between phases and at exit). */
export function closeAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

function parseMessages(contentType: string, text: string): unknown[] {
  if (contentType.includes('text/event-stream')) {
    return text
      .split('\n')
      .filter((line) => line.startsWith('data:') && line.slice(5).trim() !== '') // priming events carry no message
      .map((line) => JSON.parse(line.slice(5)));
  }
  return text ? [JSON.parse(text)] : [];
}

/** Send one JSON-RPC message (request or notification, or DELETE with `message === null`). */
export function send(t: Target, sessionId: string | null, message: { id?: number; method: string; params?: unknown } | null): Promise<RpcOutcome> {
  return new Promise((resolve) => {
    const modern = t.era === '2026-07-28' && message !== null;
    const params = modern ? { ...((message.params as Record<string, unknown> | undefined) ?? {}), _meta: MODERN_META } : message?.params;
    const body = message ? JSON.stringify({ jsonrpc: '2.0', ...message, ...(params === undefined ? {} : { params }) }) : '';
    const headers: Record<string, string> = {
      host: t.host,
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': modern ? '2026-07-28' : '2025-06-18',
      'content-length': String(Buffer.byteLength(body)),
    };
    if (modern) {
      headers['mcp-method'] = message.method;
      const name = (params as { name?: unknown } | undefined)?.name;
      if (typeof name === 'string') headers['mcp-name'] = name;
    }
    if (t.token) headers.authorization = `Bearer ${t.token}`;
    if (sessionId) headers['mcp-session-id'] = sessionId;
    const req = request({ host: '127.0.0.1', port: t.port, path: t.path, method: message ? 'POST' : 'DELETE', headers, agent: agentFor(t.port) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => resolve({ ok: false, status: res.statusCode ?? 0, sessionId: null, error: String(e) }));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const sid = (res.headers['mcp-session-id'] as string | undefined) ?? null;
        const text = Buffer.concat(chunks).toString('utf8');
        if (status >= 400) return resolve({ ok: false, status, sessionId: sid, error: `HTTP ${status}: ${text.slice(0, 200)}` });
        if (!message || message.id === undefined) return resolve({ ok: true, status, sessionId: sid });
        try {
          const reply = parseMessages(String(res.headers['content-type'] ?? ''), text).find((m) => (m as { id?: unknown }).id === message.id) as
            { result?: { isError?: boolean }; error?: { message: string } } | undefined;
          if (!reply) return resolve({ ok: false, status, sessionId: sid, error: `no reply to ${message.method}: ${text.slice(0, 200)}` });
          if (reply.error) return resolve({ ok: false, status, sessionId: sid, error: `JSON-RPC error: ${reply.error.message}` });
          if (reply.result?.isError) return resolve({ ok: false, status, sessionId: sid, error: 'tool returned isError' });
          resolve({ ok: true, status, sessionId: sid });
        } catch (error) {
          resolve({ ok: false, status, sessionId: sid, error: `unparsable reply: ${String(error)}` });
        }
      });
    });
    req.on('error', (e) => resolve({ ok: false, status: 0, sessionId: null, error: String(e) }));
    req.end(body);
  });
}

let nextId = 1;

/** `initialize` then `notifications/initialized`; the session id, or the failure. Nothing for the stateless lane. */
export async function openSession(t: Target): Promise<{ sessionId: string | null } | { error: string }> {
  if (t.era === '2026-07-28') return { sessionId: null };
  const init = await send(t, null, {
    id: nextId++,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'smcp-bench', version: '1.0.0' } },
  });
  if (!init.ok) return { error: init.error ?? 'initialize failed' };
  if (t.sessions && !init.sessionId) return { error: 'no Mcp-Session-Id issued' };
  const done = await send(t, init.sessionId, { method: 'notifications/initialized' });
  if (!done.ok) return { error: done.error ?? 'notifications/initialized failed' };
  return { sessionId: init.sessionId };
}

/** One `tools/call` of the target's trivial tool. */
export function callTool(t: Target, sessionId: string | null): Promise<RpcOutcome> {
  return send(t, sessionId, { id: nextId++, method: 'tools/call', params: t.tool ?? { name: 'echo', arguments: { text: 'bench' } } });
}

/** End a session (DELETE); ignored for the floor. */
export async function closeSession(t: Target, sessionId: string | null): Promise<void> {
  if (t.sessions && sessionId) await send(t, sessionId, null);
}
