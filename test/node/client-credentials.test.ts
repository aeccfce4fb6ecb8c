/**
 * The OAuth client-credentials flow the gateway uses to reach an upstream (`CredentialHeaders`,
 * src/gateway/upstream-credentials.ts), against a real token endpoint on loopback: what is sent,
 * that one token serves until 30 s before it expires, that a refused or broken endpoint gives a
 * clear error, that redirects are not followed and that a private token URL is refused in
 * production before any request leaves.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CredentialError, CredentialHeaders } from '../../src/gateway/upstream-credentials';

interface Seen {
  authorization: string;
  contentType: string;
  form: URLSearchParams;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
let answer: { status: number; body: string; headers?: Record<string, string> };
let issued = 0;

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

beforeAll(async () => {
  server = createServer(async (req, res) => {
    seen.push({
      authorization: req.headers.authorization ?? '',
      contentType: req.headers['content-type'] ?? '',
      form: new URLSearchParams(await readBody(req)),
    });
    issued += 1;
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(answer.body.replace('{n}', String(issued)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

beforeEach(() => {
  seen.length = 0;
  issued = 0;
  answer = { status: 200, body: '{"access_token":"tok-{n}","token_type":"Bearer","expires_in":3600}' };
});

const dev = { SMCP_ALLOW_PRIVATE_UPSTREAMS: 'true' } as unknown as Env;
const production = {} as unknown as Env;
const creds = (over: Record<string, string> = {}) => ({
  kind: 'oauth-client-credentials' as const,
  tokenUrl: `${base}/token`,
  clientId: 'client id:1',
  clientSecret: 's3cr&t',
  scope: 'mcp.read',
  audience: 'https://upstream.example',
  ...over,
});

describe('OAuth client-credentials for upstreams', () => {
  it('posts grant_type, scope and audience with HTTP Basic client authentication, and sends the token as a bearer', async () => {
    const headers = await new CredentialHeaders(dev, creds(), 5_000).headers();
    expect(headers).toEqual({ authorization: 'Bearer tok-1' });
    expect(seen).toHaveLength(1);
    const s = seen[0]!;
    expect(s.contentType).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(s.form)).toEqual({ grant_type: 'client_credentials', scope: 'mcp.read', audience: 'https://upstream.example' });
    // RFC 6749 §2.3.1: id and secret form-urlencoded, then Basic.
    expect(s.authorization).toBe(`Basic ${Buffer.from(`${encodeURIComponent('client id:1')}:${encodeURIComponent('s3cr&t')}`).toString('base64')}`);
  });

  it('reuses one token until 30 s before it expires, and fetches a new one after invalidate()', async () => {
    const h = new CredentialHeaders(dev, creds(), 5_000);
    for (let i = 0; i < 5; i++) expect((await h.headers()).authorization).toBe('Bearer tok-1');
    expect(seen).toHaveLength(1);
    h.invalidate();
    expect((await h.headers()).authorization).toBe('Bearer tok-2');

    answer.body = '{"access_token":"short-{n}","expires_in":20}'; // inside the 30 s margin: never reused
    const short = new CredentialHeaders(dev, creds(), 5_000);
    expect((await short.headers()).authorization).toBe('Bearer short-3');
    expect((await short.headers()).authorization).toBe('Bearer short-4');
  });

  it('turns a refusing or broken token endpoint into a CredentialError, and never follows a redirect', async () => {
    const cases: Array<[typeof answer, RegExp]> = [
      [{ status: 401, body: '{"error":"invalid_client"}' }, /answered 401/],
      [{ status: 200, body: '{"access_token": nope' }, /malformed JSON/],
      [{ status: 200, body: '{"token_type":"Bearer"}' }, /without access_token/],
      [{ status: 200, body: '{"access_token":""}' }, /without access_token/],
      [{ status: 302, body: '{}', headers: { location: 'http://169.254.169.254/latest/meta-data' } }, /answered 302/],
    ];
    for (const [a, message] of cases) {
      answer = a;
      seen.length = 0;
      const error = await new CredentialHeaders(dev, creds(), 5_000).headers().catch((e: unknown) => e);
      expect(error, JSON.stringify(a)).toBeInstanceOf(CredentialError);
      expect((error as Error).message).toMatch(message);
      expect(seen).toHaveLength(1); // the redirect target was not requested
    }
  });

  it('refuses a private or plain-HTTP token URL in production before any request leaves', async () => {
    for (const tokenUrl of [`${base}/token`, 'https://127.0.0.1/token', 'https://169.254.169.254/token', 'https://localhost/token', 'https://10.0.0.1/token']) {
      const error = await new CredentialHeaders(production, creds({ tokenUrl }), 5_000).headers().catch((e: unknown) => e);
      expect(error, tokenUrl).toBeInstanceOf(CredentialError);
      expect((error as Error).message).toMatch(/token URL refused/);
    }
    expect(seen).toHaveLength(0);
  });
});
