/**
 * A loopback HTTP proxy that adds a bearer token to every request, for clients that cannot sign
 * in (the conformance suite in server mode). Host and Origin that name the proxy itself are
 * rewritten to the platform's, so the platform sees what a direct client would send; any other
 * Host or Origin (a DNS-rebinding probe) passes through untouched, to be refused by the platform.
 * With `token: null` it adds nothing and only observes: tests use `seen` to learn what a client
 * nobody on this project wrote actually sent (which protocol era, which methods).
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';

/** One request as it passed through the proxy (body kept up to 64 KiB). */
export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface TokenProxy {
  url: string;
  /** Every request so far, in arrival order. */
  seen: SeenRequest[];
  close(): Promise<void>;
}

const KEPT_BODY = 64 * 1024;

export function startTokenProxy(target: string, token: string | null): Promise<TokenProxy> {
  const upstream = new URL(target);
  const seen: SeenRequest[] = [];
  let self = '';
  const server: Server = createServer((req, res) => {
    const headers = token === null ? { ...req.headers } : { ...req.headers, authorization: `Bearer ${token}` };
    if (headers.host === self) headers.host = upstream.host;
    if (headers.origin === `http://${self}`) headers.origin = upstream.origin;
    const record: SeenRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body: '' };
    seen.push(record);
    req.on('data', (chunk: Buffer) => {
      if (record.body.length < KEPT_BODY) record.body += chunk.toString('utf8');
    });
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
        seen,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** JSON-RPC method names in the bodies of the recorded POSTs (batches flattened). */
export function seenMethods(seen: SeenRequest[]): string[] {
  const methods: string[] = [];
  for (const r of seen) {
    if (r.method !== 'POST') continue;
    try {
      const body = JSON.parse(r.body) as unknown;
      for (const m of Array.isArray(body) ? body : [body])
        if (m && typeof m === 'object' && typeof (m as { method?: unknown }).method === 'string') methods.push((m as { method: string }).method);
    } catch {
      // not JSON: nothing to report
    }
  }
  return methods;
}
