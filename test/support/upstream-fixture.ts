/**
 * A real upstream MCP server for the gateway tests: the official SDK's McpServer behind its
 * Streamable HTTP server transport on loopback, in this Node process, with switches that make it
 * misbehave on demand (slow, erroring, dropping connections, hanging, changing a tool). Counts
 * every JSON-RPC method it receives so tests can prove retries and cache hits.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer, type RegisteredTool } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CreateMessageResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

export type Failure = '503' | 'drop' | 'malformed';

export interface FixtureBehaviour {
  /** Every request fails this way (the upstream is down). */
  down: Failure | null;
  /** The next `times` requests for `method` fail this way, then it recovers. */
  failNext: Array<{ method: string; times: number; kind: Failure }>;
  /** Added before every answer. */
  delayMs: number;
  /** Requests wait until `release()` (a hung upstream). */
  hang: boolean;
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  requireToken: string | null;
}

export interface UpstreamFixture {
  url: string;
  behaviour: FixtureBehaviour;
  /** JSON-RPC requests received, by method (requests that were failed on purpose count too). */
  counts: Record<string, number>;
  /** Authorization headers seen (to prove credentials are sent). */
  authorizations: string[];
  /** Change the `echo` tool's description in every session (each sends notifications/tools/list_changed). */
  setEchoDescription(description: string): void;
  release(): void;
  close(): Promise<void>;
}

const count = (counts: Record<string, number>, method: string) => (counts[method] = (counts[method] ?? 0) + 1);

function buildServer(state: { description: string }, echoTools: Set<RegisteredTool>): McpServer {
  const server = new McpServer({ name: 'fixture-upstream', version: '1.0.0' }, { capabilities: { logging: {} } });
  const echo = server.registerTool(
    'echo',
    { description: state.description, inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } },
    async ({ text }) => ({
      content: [{ type: 'text', text: `echo: ${text}` }],
    }),
  );
  echoTools.add(echo);
  server.registerTool(
    'add',
    { description: 'Add two numbers', inputSchema: { a: z.number(), b: z.number() }, annotations: { idempotentHint: true } },
    async ({ a, b }) => ({
      content: [{ type: 'text', text: String(a + b) }],
    }),
  );
  server.registerTool('write', { description: 'A tool that changes something', inputSchema: { value: z.string() } }, async ({ value }) => ({
    content: [{ type: 'text', text: `wrote ${value}` }],
  }));
  server.registerTool(
    'slow',
    { description: 'Reports progress and logs while it works', inputSchema: { steps: z.number().int().min(1).max(20) }, annotations: { readOnlyHint: true } },
    async ({ steps }, extra) => {
      for (let i = 1; i <= steps; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const token = extra._meta?.progressToken;
        if (token !== undefined)
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps } });
        await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: `step ${i}` } });
      }
      return { content: [{ type: 'text', text: `done after ${steps} steps` }] };
    },
  );
  server.registerTool(
    'big',
    { description: 'Answers with n bytes of text', inputSchema: { bytes: z.number().int() }, annotations: { readOnlyHint: true } },
    async ({ bytes }) => ({
      content: [{ type: 'text', text: 'x'.repeat(bytes) }],
    }),
  );
  server.registerTool('ask', { description: 'Asks the client to sample', inputSchema: {}, annotations: { readOnlyHint: true } }, async (_args, extra) => {
    try {
      // Related to the call, so it travels on the call's own stream (not the standalone GET stream, which a short-lived client may not have opened yet).
      const res = await extra.sendRequest(
        { method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }], maxTokens: 5 } },
        CreateMessageResultSchema,
      );
      return { content: [{ type: 'text', text: `sampled: ${JSON.stringify(res.content)}` }] };
    } catch (error) {
      return { content: [{ type: 'text', text: `sampling failed: ${error instanceof Error ? error.message : String(error)}` }], isError: true };
    }
  });
  server.registerResource('readme', 'fixture://readme', { mimeType: 'text/plain' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'fixture readme' }] }));
  server.registerPrompt('greet', { description: 'Greets someone', argsSchema: { name: z.string() } }, ({ name }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Hello, ${name}!` } }],
  }));
  return server;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

function methodsOf(body: unknown): string[] {
  const list = Array.isArray(body) ? body : body ? [body] : [];
  return list.flatMap((m) => (m && typeof m === 'object' && 'method' in m ? [String((m as { method: unknown }).method)] : []));
}

/** Start the fixture on 127.0.0.1 (a free port). */
export async function startUpstream(init: Partial<FixtureBehaviour> = {}): Promise<UpstreamFixture> {
  const behaviour: FixtureBehaviour = { down: null, failNext: [], delayMs: 0, hang: false, requireToken: null, ...init };
  const counts: Record<string, number> = {};
  const authorizations: string[] = [];
  const state = { description: 'Echo the text back' };
  const echoTools = new Set<RegisteredTool>();
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let waiting: Array<() => void> = [];

  const fail = (res: ServerResponse, kind: Failure) => {
    if (kind === 'drop') return res.socket?.destroy();
    if (kind === 'malformed') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"this is": not json');
    res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream is down');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = req.method === 'POST' ? await readJson(req) : undefined;

    const methods = methodsOf(body);
    for (const m of methods) count(counts, m);
    if (req.headers.authorization) authorizations.push(req.headers.authorization);
    if (behaviour.requireToken && req.headers.authorization !== `Bearer ${behaviour.requireToken}`) {
      return res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"unauthorized"}');
    }
    if (behaviour.hang && req.method === 'POST' && !methods.includes('initialize') && !methods.every((m) => m.startsWith('notifications/'))) {
      await new Promise<void>((r) => waiting.push(r));
    }
    if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
    if (behaviour.down && req.method !== 'DELETE') return fail(res, behaviour.down);
    const planned = behaviour.failNext.find((f) => f.times > 0 && methods.includes(f.method));
    if (planned) {
      planned.times--;
      return fail(res, planned.kind);
    }
    const sid = req.headers['mcp-session-id'];
    let transport = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (!transport) {
      if (!methods.includes('initialize'))
        return res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Session not found"}}');
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, created),
      });
      created.onclose = () => created.sessionId && sessions.delete(created.sessionId);
      await buildServer(state, echoTools).connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, body);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    behaviour,
    counts,
    authorizations,
    setEchoDescription(description) {
      state.description = description;
      for (const tool of echoTools) tool.update({ description });
    },
    release() {
      const w = waiting;
      waiting = [];
      for (const r of w) r();
    },
    close: async () => {
      behaviour.hang = false;
      for (const r of waiting) r();
      for (const t of sessions.values()) await t.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
