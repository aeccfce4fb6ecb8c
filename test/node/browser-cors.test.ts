import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, freePort, startPlatform, type RunningPlatform } from '../../scripts/lib/local-platform.ts';

/**
 * Real browser, real CORS: Chromium loads a page from an allowed origin and one from a disallowed
 * origin (two loopback HTTP servers on different ports) and each page calls the MCP endpoint with
 * an API key. Only the allowed page may send the request (preflight) and read the answer.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let platform: RunningPlatform;
let stateDir: string;
let browser: Browser;
const pages: Server[] = [];
let allowedOrigin: string;
let foreignOrigin: string;
let apiKey: string;

async function pageServer(port: number): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>smcp cors test</title><p>test page</p>');
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  pages.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const [allowedPort, foreignPort] = [await freePort(), await freePort()];
  allowedOrigin = `http://127.0.0.1:${allowedPort}`;
  stateDir = mkdtempSync(join(tmpdir(), 'smcp-cors-'));
  platform = await startPlatform({
    stateDir,
    adminToken: 'cors-operator-token-0123456789',
    secret: 'cors-secret-'.padEnd(48, 'z'),
    vars: { SMCP_ALLOWED_ORIGINS: allowedOrigin },
  });
  await pageServer(allowedPort);
  foreignOrigin = await pageServer(foreignPort);
  expect((await admin(platform, '/tenants', { id: 'cors', name: 'CORS', servers: ['notes'] })).status).toBe(201);
  const key = await admin(platform, '/tenants/cors/keys', { name: 'browser', role: 'member' });
  expect(key.status).toBe(201);
  apiKey = key.body.key;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  for (const s of pages) s.close();
  await platform?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

/** Load a page from `origin` and, from inside it, POST initialize to the MCP endpoint. */
async function callFromPage(origin: string) {
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}/`);
    return await page.evaluate(
      async ({ url, key }) => {
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
            body: JSON.stringify({
              jsonrpc: '2.0',
              id: 1,
              method: 'initialize',
              params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'browser', version: '1' } },
            }),
          });
          return { ok: true, status: res.status, sessionId: res.headers.get('mcp-session-id'), body: (await res.text()).slice(0, 500) };
        } catch (error) {
          return { ok: false, error: String(error) };
        }
      },
      { url: `${platform.url}/servers/notes/mcp`, key: apiKey },
    );
  } finally {
    await page.close();
  }
}

describe('browser CORS on /servers/<name>/mcp (Chromium)', () => {
  it('lets a page from an allowed origin call the endpoint and read Mcp-Session-Id', async () => {
    const result = await callFromPage(allowedOrigin);
    console.log(`allowed origin ${allowedOrigin}: ${JSON.stringify(result).slice(0, 200)}`);
    expect(result.ok).toBe(true);
    expect(result.status).toBe(200);
    expect(result.sessionId).toMatch(/^[0-9a-f]{64}\.[0-9a-f]{32}$/);
    expect(result.body).toContain('"serverInfo"');
  });

  it('blocks a page from a disallowed origin (the preflight gets no CORS headers)', async () => {
    const result = await callFromPage(foreignOrigin);
    console.log(`foreign origin ${foreignOrigin}: ${JSON.stringify(result)}`);
    expect(result.ok).toBe(false);
    expect(result.error).toMatch(/Failed to fetch|TypeError/);
  });
});
