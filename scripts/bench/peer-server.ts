/**
 * The peer: the official MCP TypeScript SDK's own Streamable HTTP server on Node, the usual
 * self-hosted alternative, set up the way the SDK's stateful example does (one transport and one
 * McpServer per session, kept in a map) behind a bearer-token check. Serves the same trivial tool.
 * Spawned by `scripts/bench.ts` as its own process so its CPU and memory are its own.
 *
 * Env: PEER_PORT (0 = any), PEER_TOKEN. Prints `listening <port>` once ready.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { registerTrivialTool } from '../../bench/trivial-tool.ts';

const token = Buffer.from(`Bearer ${process.env.PEER_TOKEN ?? ''}`);
if (token.length <= 'Bearer '.length) throw new Error('PEER_TOKEN is required');
const sessions = new Map<string, StreamableHTTPServerTransport>();

function authorized(req: IncomingMessage): boolean {
  const given = Buffer.from(req.headers.authorization ?? '');
  return given.length === token.length && timingSafeEqual(given, token);
}

function fail(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.url !== '/mcp') return fail(res, 404, -32600, 'Not found');
  if (!authorized(req)) {
    res.setHeader('www-authenticate', 'Bearer');
    return fail(res, 401, -32001, 'Unauthorized');
  }
  const body = req.method === 'POST' ? await readJson(req) : undefined;
  const id = req.headers['mcp-session-id'];
  const existing = typeof id === 'string' ? sessions.get(id) : undefined;
  if (existing) return existing.handleRequest(req, res, body);
  if (id !== undefined) return fail(res, 404, -32001, 'Session not found');
  if (req.method !== 'POST' || !isInitializeRequest(body)) return fail(res, 400, -32000, 'Bad Request: no valid session');

  const transport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    onsessioninitialized: (sid) => void sessions.set(sid, transport),
  });
  transport.onclose = () => {
    if (transport.sessionId) sessions.delete(transport.sessionId);
  };
  const server = new McpServer({ name: 'bench', version: '1.0.0' }, { capabilities: { tools: {} } });
  registerTrivialTool(server);
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

const httpServer = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    if (!res.headersSent) fail(res, 500, -32603, `Internal error: ${String(error)}`);
  });
});
httpServer.keepAliveTimeout = 60_000;
httpServer.listen(Number(process.env.PEER_PORT ?? 0), '127.0.0.1', () => {
  const address = httpServer.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : 0}`);
});
process.on('SIGTERM', () => httpServer.close(() => process.exit(0)));
