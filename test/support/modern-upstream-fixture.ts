/**
 * A real MCP 2026-07-28 upstream for the gateway tests: the official SDK v2 server
 * (`@modelcontextprotocol/server` 2.4.0, `createMcpHandler`, modern only: `legacy: 'reject'`, so a
 * 2025 `initialize` is refused) on 127.0.0.1, in this Node process. It serves tools (one asks
 * for confirmation by multi-round-trip input), a resource, a resource template, a prompt and
 * completion, and counts every JSON-RPC method and the protocol headers it receives, so tests can
 * prove which era the gateway spoke and where each call went.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMcpHandler, inputRequired, McpServer, ResourceTemplate } from '@modelcontextprotocol/server';
import { z } from 'zod';

export interface ModernFixture {
  url: string;
  /** JSON-RPC requests received, by method. */
  counts: Record<string, number>;
  /** `MCP-Protocol-Version` / `Mcp-Method` / `Mcp-Name` headers seen, one entry per request. */
  headers: Array<{ version?: string; method?: string; name?: string }>;
  /** The requestState values echoed back to it (proves the gateway unwrapped its own wrapping). */
  echoedStates: string[];
  behaviour: { delayMs: number; down: boolean };
  close(): Promise<void>;
}

const STATE_PREFIX = 'upstream-state:';

function build(fixture: { echoedStates: string[] }): McpServer {
  const server = new McpServer({ name: 'modern-fixture', version: '2.0.0' }, { capabilities: { logging: {}, completions: {} } });
  server.registerTool(
    'echo',
    { description: 'Echo the text back', inputSchema: z.object({ text: z.string() }), annotations: { readOnlyHint: true } },
    async ({ text }) => ({
      content: [{ type: 'text', text: `echo: ${text}` }],
    }),
  );
  server.registerTool(
    'add',
    { description: 'Add two numbers', inputSchema: z.object({ a: z.number(), b: z.number() }), annotations: { idempotentHint: true } },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
  );
  server.registerTool('write', { description: 'A tool that changes something', inputSchema: z.object({ value: z.string() }) }, async ({ value }) => ({
    content: [{ type: 'text', text: `wrote ${value}` }],
  }));
  server.registerTool(
    'confirm',
    {
      description: 'Asks the client to confirm (multi-round-trip elicitation)',
      inputSchema: z.object({ what: z.string() }),
      annotations: { readOnlyHint: true },
    },
    async ({ what }, ctx) => {
      const state = ctx.mcpReq.requestState();
      const answer = ctx.mcpReq.inputResponses?.ok as { action?: string; content?: { yes?: boolean } } | undefined;
      if (typeof state !== 'string' || !answer) {
        return inputRequired({
          inputRequests: {
            ok: inputRequired.elicit({
              message: `Confirm ${what}?`,
              requestedSchema: { type: 'object', properties: { yes: { type: 'boolean' } }, required: ['yes'] },
            }),
          },
          requestState: `${STATE_PREFIX}${what}`,
        });
      }
      fixture.echoedStates.push(state);
      if (state !== `${STATE_PREFIX}${what}`) return { content: [{ type: 'text', text: `bad state ${state}` }], isError: true };
      return { content: [{ type: 'text', text: `${what}: ${answer.action === 'accept' && answer.content?.yes === true ? 'confirmed' : 'declined'}` }] };
    },
  );
  server.registerTool(
    'sample',
    {
      description: 'Asks the client to sample, then for its roots (multi-round-trip)',
      inputSchema: z.object({ roots: z.boolean() }),
      annotations: { readOnlyHint: true },
    },
    async ({ roots }, ctx) => {
      const sampled = ctx.mcpReq.inputResponses?.llm as { content?: { text?: string } } | undefined;
      if (!sampled)
        return inputRequired({
          inputRequests: { llm: inputRequired.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'hi' } }], maxTokens: 5 }) },
          requestState: 'sample-1',
        });
      if (roots && !ctx.mcpReq.inputResponses?.roots) return inputRequired({ inputRequests: { roots: inputRequired.listRoots() }, requestState: 'sample-2' });
      return { content: [{ type: 'text', text: `sampled: ${sampled.content?.text ?? '?'}` }] };
    },
  );
  server.registerTool(
    'big',
    { description: 'Answers with n bytes of text', inputSchema: z.object({ bytes: z.number().int() }), annotations: { readOnlyHint: true } },
    async ({ bytes }) => ({ content: [{ type: 'text', text: 'x'.repeat(bytes) }] }),
  );
  server.registerTool(
    'steps',
    {
      description: 'Reports progress and logs while it works',
      inputSchema: z.object({ n: z.number().int().min(1).max(10) }),
      annotations: { readOnlyHint: true },
    },
    async ({ n }, ctx) => {
      const token = ctx.mcpReq._meta?.progressToken;
      for (let i = 1; i <= n; i++) {
        if (token !== undefined) await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: n } });
      }
      return { content: [{ type: 'text', text: `done after ${n} steps` }] };
    },
  );
  server.registerResource('readme', 'fixture://readme', { mimeType: 'text/plain' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'modern readme' }] }));
  server.registerResource(
    'item',
    new ResourceTemplate('fixture://items/{id}', { list: undefined, complete: { id: (v) => ['alpha', 'beta'].filter((x) => x.startsWith(v)) } }),
    { mimeType: 'text/plain' },
    async (uri, { id }) => ({ contents: [{ uri: uri.href, text: `item ${String(id)}` }] }),
  );
  server.registerPrompt('greet', { description: 'Greets someone', argsSchema: z.object({ name: z.string() }) }, ({ name }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Hello, ${name}!` } }],
  }));
  server.registerPrompt('choose', { description: 'Asks the user to choose (multi-round-trip)', argsSchema: z.object({ topic: z.string() }) }, ((
    { topic }: { topic: string },
    ctx: { mcpReq: { inputResponses?: Record<string, unknown> } },
  ) => {
    const picked = ctx.mcpReq.inputResponses?.pick as { content?: { choice?: string } } | undefined;
    if (!picked)
      return inputRequired({
        inputRequests: {
          pick: inputRequired.elicit({
            message: `Choose a ${topic}`,
            requestedSchema: { type: 'object', properties: { choice: { type: 'string' } }, required: ['choice'] },
          }),
        },
        requestState: 'choose-1',
      });
    return { messages: [{ role: 'user', content: { type: 'text', text: `You chose ${picked.content?.choice ?? '?'}` } }] };
  }) as never);
  return server;
}

async function toRequest(req: IncomingMessage, url: string): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
  return new Request(url, { method: req.method, headers, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined });
}

/** Start the 2026-07-28 fixture on 127.0.0.1 (a free port). */
export async function startModernUpstream(init: Partial<ModernFixture['behaviour']> = {}): Promise<ModernFixture> {
  const counts: Record<string, number> = {};
  const headers: ModernFixture['headers'] = [];
  const fixture = { echoedStates: [] as string[] };
  const behaviour = { delayMs: 0, down: false, ...init };
  const handler = createMcpHandler(() => build(fixture), { legacy: 'reject', keepAliveMs: 0 });
  let base = '';
  const server: Server = createServer((req, res) => {
    void (async () => {
      const request = await toRequest(req, `${base}${req.url ?? '/'}`);
      const body = request.method === 'POST' ? ((await request.clone().json()) as { method?: string }) : null;
      if (body?.method) counts[body.method] = (counts[body.method] ?? 0) + 1;
      headers.push({
        version: req.headers['mcp-protocol-version'] as string | undefined,
        method: req.headers['mcp-method'] as string | undefined,
        name: req.headers['mcp-name'] as string | undefined,
      });
      if (behaviour.delayMs) await new Promise((r) => setTimeout(r, behaviour.delayMs));
      if (behaviour.down) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
      const response = await handler.fetch(request);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (response.body) for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
      res.end();
    })().catch((error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;
  return {
    url: `${base}/mcp`,
    counts,
    headers,
    echoedStates: fixture.echoedStates,
    behaviour,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
