/**
 * A real upstream for the response-cache tests: the official SDK's McpServer behind its Streamable
 * HTTP transport on 127.0.0.1, whose every answer carries a fresh serial number (so a cached answer
 * is recognisable), counting each tools/call by tool name, and able to send the change
 * notifications that invalidate cached answers to every session it holds.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export interface CacheUpstream {
  url: string;
  /** Requests received, by JSON-RPC method, and `tools/call:<tool>` per tool. */
  counts: Record<string, number>;
  /** Send a notification to every session (`resources/updated` with a uri, or a list_changed). */
  notify(kind: 'resource-updated' | 'resources' | 'prompts' | 'tools', uri?: string): Promise<void>;
  close(): Promise<void>;
}

const readOnlyIdempotent = { readOnlyHint: true, idempotentHint: true };

function buildServer(next: () => number): McpServer {
  const server = new McpServer({ name: 'cache-upstream', version: '1.0.0' });
  const q = { q: z.string() };
  const answer =
    (label: string) =>
    async ({ q: value }: { q: string }) => ({ content: [{ type: 'text' as const, text: `${label} ${value} #${next()}` }] });
  server.registerTool('lookup', { description: 'Looks something up', inputSchema: q, annotations: readOnlyIdempotent }, answer('lookup'));
  server.registerTool('secret_lookup', { description: 'Looks up a secret', inputSchema: q, annotations: readOnlyIdempotent }, answer('secret'));
  server.registerTool('other_lookup', { description: 'Not opted in', inputSchema: q, annotations: readOnlyIdempotent }, answer('other'));
  server.registerTool('plain_read', { description: 'Read-only, not idempotent', inputSchema: q, annotations: { readOnlyHint: true } }, answer('plain'));
  server.registerTool('failing', { description: 'Always fails', inputSchema: q, annotations: readOnlyIdempotent }, async ({ q: value }) => ({
    content: [{ type: 'text', text: `failed ${value} #${next()}` }],
    isError: true,
  }));
  server.registerResource('doc', 'cache://doc', { mimeType: 'text/plain' }, async (uri) => ({ contents: [{ uri: uri.href, text: `doc #${next()}` }] }));
  server.registerResource('other', 'cache://other', { mimeType: 'text/plain' }, async (uri) => ({ contents: [{ uri: uri.href, text: `other #${next()}` }] }));
  server.registerPrompt('greet', { description: 'Greets', argsSchema: { name: z.string() } }, ({ name }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Hello ${name} #${next()}` } }],
  }));
  return server;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

/** Start on 127.0.0.1 (a free port). */
export async function startCacheUpstream(): Promise<CacheUpstream> {
  let serial = 0;
  const counts: Record<string, number> = {};
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  const bump = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    for (const m of Array.isArray(body) ? body : body ? [body] : []) {
      const msg = m as { method?: string; params?: { name?: string } };
      if (!msg.method) continue;
      bump(msg.method);
      if (msg.method === 'tools/call') bump(`tools/call:${msg.params?.name}`);
    }
    const sid = req.headers['mcp-session-id'];
    let session = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (!session) {
      const server = buildServer(() => ++serial);
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, { transport, server }),
      });
      transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
      await server.connect(transport);
      session = { transport, server };
    }
    await session.transport.handleRequest(req, res, body);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    counts,
    async notify(kind, uri) {
      for (const { server } of sessions.values()) {
        const low = server.server;
        const sent =
          kind === 'resource-updated'
            ? low.sendResourceUpdated({ uri: uri ?? 'cache://doc' })
            : kind === 'resources'
              ? Promise.resolve(server.sendResourceListChanged())
              : kind === 'prompts'
                ? Promise.resolve(server.sendPromptListChanged())
                : Promise.resolve(server.sendToolListChanged());
        await sent.catch(() => undefined);
      }
    },
    close: async () => {
      for (const { transport } of sessions.values()) await transport.close().catch(() => undefined);
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
