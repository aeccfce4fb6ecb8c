/**
 * The size and malformed-message guards on legacy SSE answers (issue 18 point 5): the gateway's own
 * connection code (`connectUpstream`, guarded fetch) against a real SDK server speaking the legacy
 * HTTP+SSE transport on loopback, whose answers arrive on the long-lived GET stream. Before the
 * guard, an oversize answer was buffered whole and a malformed event left the call waiting for its
 * timeout; now each fails the waiting call at once with -32011 / -32012.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connectUpstream } from '../../src/gateway/upstream-connection';
import { DEFAULT_SETTINGS } from '../../src/gateway/upstream-model';

let server: Server;
let url: string;
const streams = new Set<ServerResponse>();

beforeAll(async () => {
  const transports = new Map<string, SSEServerTransport>();
  server = createServer(async (req, res) => {
    if (req.method === 'GET') {
      const transport = new SSEServerTransport('/messages', res);
      transports.set(transport.sessionId, transport);
      streams.add(res);
      res.on('close', () => streams.delete(res));
      const mcp = new McpServer({ name: 'legacy-sse', version: '1.0.0' });
      mcp.registerTool('big', { inputSchema: { bytes: z.number().int() } }, async ({ bytes }) => ({ content: [{ type: 'text', text: 'x'.repeat(bytes) }] }));
      mcp.registerTool('garble', { inputSchema: {} }, async () => {
        for (const s of streams) s.write('event: message\ndata: {"jsonrpc": not json\n\n');
        return new Promise(() => undefined); // never answers properly
      });
      await mcp.connect(transport);
      return;
    }
    const sid = new URL(req.url!, 'http://x').searchParams.get('sessionId') ?? '';
    await transports.get(sid)?.handlePostMessage(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sse`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const target = () => ({
  url,
  transport: 'sse' as const,
  headers: {},
  settings: { ...DEFAULT_SETTINGS, maxResponseBytes: 2048, requestTimeoutMs: 20_000 },
  allowPrivate: true,
  version: 1,
});

describe('legacy SSE answers are guarded like Streamable HTTP ones', () => {
  it('passes a normal answer, and fails an oversize one with -32011 instead of buffering it', async () => {
    const client = await connectUpstream(target());
    const ok = await client.callTool({ name: 'big', arguments: { bytes: 100 } });
    expect((ok.content as Array<{ text: string }>)[0]!.text).toHaveLength(100);
    await expect(client.callTool({ name: 'big', arguments: { bytes: 50_000 } })).rejects.toMatchObject({ code: -32011 });
    await client.close();
  });

  it('fails the waiting call with -32012 on a malformed event, not the request timeout (-32001)', async () => {
    const client = await connectUpstream(target());
    await expect(client.callTool({ name: 'garble', arguments: {} })).rejects.toMatchObject({ code: -32012 });
    await client.close();
  });
});
