import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fetchWithTimeout, TimeoutError } from '../../src/http/fetch-with-timeout';

// A real upstream on loopback that accepts requests and never answers (or answers only /fast).
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/fast') res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

it('fetchWithTimeout gives up on an upstream that never answers, and passes fast answers through', async () => {
  const started = Date.now();
  await expect(fetchWithTimeout(`${base}/hang`, {}, 300)).rejects.toBeInstanceOf(TimeoutError);
  console.log(`hanging upstream abandoned after ${Date.now() - started} ms (timeout 300 ms)`);
  expect(await (await fetchWithTimeout(`${base}/fast`, {}, 5000)).text()).toBe('ok');
});
