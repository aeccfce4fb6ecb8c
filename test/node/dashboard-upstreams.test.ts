import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin as adminApi, seedTenant, startPlatform, type RunningPlatform } from '../../scripts/lib/local-platform.ts';
import { startCacheUpstream, type CacheUpstream } from '../support/cache-upstream.ts';
import { connectClient, text } from '../support/gateway-harness.ts';

/**
 * The dashboard's Upstreams page in Debian's Chromium against `wrangler dev`, with real SDK
 * upstreams on loopback: per-replica state (a dead replica taken out after failing over, the live
 * one with its latency and open calls), the same taken-out count as `/health`, the response-cache
 * form (saved through the admin API's PATCH, hostile input shown as text, an out-of-range TTL
 * refused) and the cache counters after hits.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const account = { email: 'uma@upco.test', password: 'Correct-Horse-Battery-9' };
const HOSTILE = '"><img src=x onerror="window.__xss=1">';

let platform: RunningPlatform;
let stateDir: string;
let browser: Browser;
let page: Page;
let up: CacheUpstream;
let deadUrl: string;
let memberKey: string;
const dialogs: string[] = [];

const view = async () => (await adminApi(platform, '/tenants/upco/upstreams/docs', undefined, 'GET')).body;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'smcp-dash-up-'));
  platform = await startPlatform({ stateDir, adminToken: 'dashup-operator-token-0123456789', secret: 'dashup-secret-'.padEnd(48, 'z') });
  await seedTenant(platform, { id: 'upco', name: 'Upstream Co', servers: [] }, { ...account, role: 'admin' });
  memberKey = (await adminApi(platform, '/tenants/upco/keys', { name: 'member', role: 'member' })).body.key;
  up = await startCacheUpstream();
  // A replica that refuses connections: a port that was free a moment ago.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  deadUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/mcp`;
  await new Promise<void>((r) => probe.close(() => r()));
  const created = await adminApi(platform, '/tenants/upco/upstreams', {
    name: 'docs',
    replicas: [{ url: up.url }, { url: deadUrl }],
    balance: 'round-robin',
    settings: { failureThreshold: 1, cooldownMs: 600_000, retries: 2, retryBaseMs: 10, healthIntervalMs: 3_600_000 },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await up?.close();
  await platform?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('dashboard: upstreams page in Chromium', () => {
  it('shows each replica’s breaker, health, latency and open calls, with the taken-out count /health reports', async () => {
    // Sessions spread round-robin; each that lands on the dead replica fails over (lookup is idempotent) and takes it out.
    for (let i = 0; i < 4; i++) {
      const client = await connectClient(platform, 'docs', memberKey);
      expect(text(await client.callTool({ name: 'lookup', arguments: { q: `s${i}` } }))).toMatch(/^lookup s\d #\d+$/);
      await client.close();
    }
    const replicas = (await view()).state.replicas;
    expect(replicas.map((r: { breaker: { state: string } }) => r.breaker.state)).toEqual(['closed', 'open']);
    const health = (await (await fetch(`${platform.url}/health`)).json()) as { gateway: { replicas: { total: number; up: number; down: number } } };
    expect(health.gateway.replicas).toEqual({ total: 2, up: 1, down: 1 });

    await page.goto(`${platform.url}/dashboard`);
    await page.getByLabel('Email', { exact: true }).fill(account.email);
    await page.getByLabel('Password', { exact: true }).fill(account.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/dashboard\/t\/upco\/servers$/);
    await page.getByRole('link', { name: 'Upstreams', exact: true }).click();
    await page.waitForURL(/\/dashboard\/t\/upco\/upstreams$/);
    const table = page.locator('table[data-replicas="docs"]');
    await expect(table.locator('caption').textContent()).resolves.toContain(
      `${health.gateway.replicas.up} in service, ${health.gateway.replicas.down} taken out`,
    );
    const live = table.locator('tr[data-replica="0"]');
    const dead = table.locator('tr[data-replica="1"]');
    expect(await live.textContent()).toContain(up.url);
    expect(await live.locator('td[data-breaker]').getAttribute('data-breaker')).toBe('closed');
    expect(Number(await live.locator('td[data-latency]').textContent())).toBeGreaterThanOrEqual(0);
    expect(await live.locator('td[data-open-calls]').textContent()).toBe('0');
    expect(await dead.textContent()).toContain(deadUrl);
    expect(await dead.locator('td[data-breaker]').getAttribute('data-breaker')).toBe('open');
    expect(await dead.textContent()).toContain('taken out');
    expect(await live.locator('td[data-latency]').textContent()).toMatch(/^\d+$/);
  });

  it('switches response caching on from a form (hostile input stays text), refuses an out-of-range TTL, and shows hits', async () => {
    await page.goto(`${platform.url}/dashboard/t/upco/upstreams`);
    await page.getByLabel('Cache responses of docs', { exact: true }).check();
    await page.getByLabel('Cache lifetime of docs (minutes)', { exact: true }).fill('10');
    await page.getByLabel('Cached tools of docs (comma-separated upstream names)', { exact: true }).fill(`lookup, ${HOSTILE}`);
    await page.getByRole('button', { name: 'Save response cache settings of docs' }).click();
    await page.waitForURL(/\/upstreams\?done=cache$/);
    expect(await page.getByRole('status').textContent()).toContain('Response cache settings saved');
    expect((await view()).settings.responseCache).toEqual({ enabled: true, ttlMs: 600_000, tools: ['lookup', HOSTILE] });
    // The tool list comes back as the input's value, escaped: no element, no script ran.
    expect(await page.getByLabel('Cached tools of docs (comma-separated upstream names)', { exact: true }).inputValue()).toBe(`lookup, ${HOSTILE}`);
    expect(await page.locator('main img').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
    expect(dialogs).toEqual([]);

    // Out of range (the browser's own min/max removed, as a hand-made request would): refused, nothing changed.
    await page.locator('#cache-docs-ttl').evaluate((el) => el.removeAttribute('max'));
    await page.getByLabel('Cache lifetime of docs (minutes)', { exact: true }).fill('61');
    await page.getByRole('button', { name: 'Save response cache settings of docs' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/ttlMs: responseCache\.ttlMs must be at most 3600000 ms/);
    expect((await view()).settings.responseCache.ttlMs).toBe(600_000);

    const client = await connectClient(platform, 'docs', memberKey);
    const first = text(await client.callTool({ name: 'lookup', arguments: { q: 'cached' } }));
    expect(text(await client.callTool({ name: 'lookup', arguments: { q: 'cached' } }))).toBe(first);
    expect(up.counts['tools/call:lookup']).toBe(5);
    await client.close();
    await page.goto(`${platform.url}/dashboard/t/upco/upstreams`);
    const counters = page.locator('[data-cache-counters="docs"]');
    expect(await counters.locator('[data-hits]').textContent()).toBe('1');
    expect(await counters.locator('[data-misses]').textContent()).toBe('1');
  });
});
