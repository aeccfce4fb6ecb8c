/**
 * A loopback HTTP proxy whose target can be switched at run time, so a test can replace the server
 * behind one registered upstream URL (an upstream upgraded from the 2025 handshake to MCP
 * 2026-07-28, or downgraded). Streams answers through (SSE included) and forwards every header but
 * `host`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SwitchProxy {
  url: string;
  /** Send every later request to `target` (the full MCP endpoint URL). */
  switchTo(target: string): void;
  close(): Promise<void>;
}

export async function startSwitchProxy(initial: string): Promise<SwitchProxy> {
  let target = initial;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers.set(k, v);
      const upstream = await fetch(target, { method: req.method, headers, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined });
      res.writeHead(upstream.status, Object.fromEntries(upstream.headers));
      if (upstream.body) for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) res.write(chunk);
      res.end();
    })().catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    switchTo: (next) => void (target = next),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
