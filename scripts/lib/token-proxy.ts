/**
 * A loopback HTTP proxy that adds a bearer token to every request, for clients that cannot sign
 * in (the conformance suite in server mode). Host and Origin that name the proxy itself are
 * rewritten to the platform's, so the platform sees what a direct client would send; any other
 * Host or Origin (a DNS-rebinding probe) passes through untouched, to be refused by the platform.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';

export interface TokenProxy {
  url: string;
  close(): Promise<void>;
}

export function startTokenProxy(target: string, token: string): Promise<TokenProxy> {
  const upstream = new URL(target);
  let self = '';
  const server: Server = createServer((req, res) => {
    const headers = { ...req.headers, authorization: `Bearer ${token}` };
    if (headers.host === self) headers.host = upstream.host;
    if (headers.origin === `http://${self}`) headers.origin = upstream.origin;
    const out = httpRequest({ hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'bad_gateway', message: String(error) } }));
    });
    req.pipe(out);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      self = `localhost:${port}`;
      resolve({
        url: `http://localhost:${port}`,
        close: () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); }),
      });
    });
  });
}
