import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin as adminApi, ROOT, seedTenant, startPlatform, type RunningPlatform } from '../../scripts/lib/local-platform.ts';
import { connectWithOAuth, firstText } from '../support/mcp-connect';
import { TestOAuthProvider } from '../support/oauth-test-client';

/**
 * The dashboard in Debian's Chromium (driven by playwright-core) against `wrangler dev`: a tenant
 * admin signs in, copies a snippet, creates and revokes a key (and the revoked key is refused at
 * the MCP endpoint), finds their own tool calls in the audit log, sees charts drawn with data, is
 * refused another tenant's pages and cross-site form posts, and signs out; the operator suspends
 * and resumes a tenant. With SMCP_SCREENSHOTS=1 (`npm run screenshots`) it saves the main pages
 * under docs/img/.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = process.env.SMCP_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'img') : null;
const admin = { email: 'ada@acme.test', password: 'Correct-Horse-Battery-9' };
const rival = { email: 'gus@globex.test', password: 'Correct-Horse-Battery-9' };

let platform: RunningPlatform;
let stateDir: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const cspViolations: string[] = [];

async function shot(name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `dashboard-${name}.png`), fullPage: true });
}

async function signIn(p: Page, account: { email: string; password: string }): Promise<void> {
  await p.goto(`${platform.url}/dashboard`);
  await p.getByLabel('Email', { exact: true }).fill(account.email);
  await p.getByLabel('Password', { exact: true }).fill(account.password);
  await p.getByRole('button', { name: 'Sign in' }).click();
  await p.waitForURL(/\/dashboard\/t\/[^/]+\/servers$/);
}

const initialize = (key: string) =>
  fetch(`${platform.url}/servers/notes/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'browser-test', version: '1' } },
    }),
  });

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'smcp-dash-'));
  platform = await startPlatform({ stateDir, adminToken: 'dash-operator-token-0123456789', secret: 'dash-secret-'.padEnd(48, 'z') });
  await seedTenant(platform, { id: 'acme', name: 'Acme Corp', servers: ['notes', 'everything'] }, { ...admin, role: 'admin' });
  await seedTenant(platform, { id: 'globex', name: 'Globex', servers: ['notes'] }, { ...rival, role: 'admin' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: platform.url });
  page = await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('dashboard in Chromium against wrangler dev', () => {
  it('signs in with a tenant account into a session cookie the page cannot read, and copies a connection snippet', async () => {
    await signIn(page, admin);
    const cookie = (await context.cookies()).find((c) => c.name === '__Host-smcp-dash')!;
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/' });
    expect(await page.evaluate('document.cookie')).not.toContain('smcp-dash');
    await expect(page.getByRole('heading', { name: 'Servers' })).toBeTruthy();
    const url = `${platform.url}/servers/notes/mcp`;
    expect(await page.locator('#snippet-notes-url').textContent()).toBe(url);
    await page.locator('button[data-copy="snippet-notes-claude"]').click();
    await page.waitForSelector('button[data-copy="snippet-notes-claude"][data-copied="true"]');
    const copied = (await page.evaluate('navigator.clipboard.readText()')) as string;
    expect(JSON.parse(copied)).toEqual({ mcpServers: { 'smcp-notes': { command: 'npx', args: ['-y', 'mcp-remote', url] } } });
    await shot('servers');
  });

  it('creates a key, shows it once, and a revoked key is refused at the MCP endpoint', async () => {
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Name').fill('ci runner');
    await page.getByLabel('Role').selectOption('member');
    await page.getByLabel('Expires in days (empty = never)').fill('30');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = (await page.locator('#new-key').textContent())!;
    expect(key).toMatch(/^smcp_acme_[A-Za-z0-9_-]{43}$/);
    expect((await initialize(key)).status).toBe(200);
    await shot('key-created');

    await page.goto(`${platform.url}/dashboard/t/acme/keys`);
    expect(await page.content()).not.toContain(key);
    expect(await page.locator('tr[data-key-id] td').nth(5).textContent()).toMatch(/UTC/); // last use recorded
    await page.getByRole('button', { name: /^Revoke key ci runner/ }).click();
    await page.waitForSelector('text=Key revoked.');
    expect(await page.locator('tr[data-key-id] .badge').first().textContent()).toBe('Revoked');
    expect((await initialize(key)).status).toBe(401);
    await shot('keys');
  });

  it("shows the admin's own tool calls in the audit log, with a detail view", async () => {
    const provider = new TestOAuthProvider(admin);
    const client = await connectWithOAuth('streamable-http', `${platform.url}/servers/notes/mcp`, provider);
    for (const title of ['first', 'second', 'third']) firstText(await client.callTool({ name: 'add_note', arguments: { title } }));
    await client.callTool({ name: 'list_notes', arguments: {} });
    await client.close();

    const rows = page.locator('tbody tr', { hasText: 'add_note' });
    const deadline = Date.now() + 60_000;
    for (;;) {
      await page.goto(`${platform.url}/dashboard/t/acme/audit?action=tools%2Fcall`);
      if ((await rows.count()) >= 3 || Date.now() > deadline) break;
      await page.waitForTimeout(1000);
    }
    expect(await rows.count()).toBe(3);
    const userCell = await rows.first().locator('td').nth(3).textContent();
    expect(userCell).toMatch(/^usr_/);
    await shot('audit');
    await rows.first().locator('a').first().click();
    await page.waitForURL(/\/audit\/[0-9a-f-]{36}\?at=\d+$/);
    const detail = await page.locator('dl.fields').textContent();
    expect(detail).toContain('tools/call');
    expect(detail).toContain('add_note');
    expect(detail).toContain(userCell!);
    await shot('audit-event');
  });

  it('draws the metrics charts with data', async () => {
    await page.goto(`${platform.url}/dashboard/t/acme/metrics`);
    await page.waitForSelector('#metrics-charts[data-ready="true"]', { timeout: 30_000 });
    const requests = page.locator('#chart-requests');
    expect(await requests.getAttribute('data-rendered')).toBe('true');
    expect(Number(await requests.getAttribute('data-points'))).toBeGreaterThan(0);
    expect(await requests.locator('canvas').count()).toBe(1);
    const box = await requests.locator('canvas').boundingBox();
    expect(box!.width).toBeGreaterThan(200);
    expect(await page.locator('[data-latency-server="notes"] canvas').count()).toBe(1);
    expect(Number(await page.locator('#active-sessions').textContent())).toBeGreaterThan(0);
    await shot('metrics');
  });

  it("refuses another tenant's pages and a cross-site form post", async () => {
    for (const section of ['servers', 'keys', 'users', 'audit', 'metrics']) {
      const res = await page.goto(`${platform.url}/dashboard/t/globex/${section}`);
      expect(res!.status()).toBe(404);
    }
    expect((await page.goto(`${platform.url}/dashboard/operator`))!.status()).toBe(404);

    // A page on another site posts a form at the dashboard: the SameSite=Strict cookie stays home.
    const attacker = await context.newPage();
    await attacker.setContent(
      `<form method="post" action="${platform.url}/dashboard/t/acme/keys"><input name="name" value="evil"><input name="role" value="admin"><button>go</button></form>`,
    );
    const [response] = await Promise.all([attacker.waitForNavigation(), attacker.click('button')]);
    expect(response!.status()).toBe(403);
    await attacker.close();

    // A same-site post with a tampered CSRF token is refused too.
    await page.goto(`${platform.url}/dashboard/t/acme/keys`);
    await page.evaluate(`document.querySelector('form.row input[name="csrf"]').value = 'tampered'`);
    await page.getByLabel('Name').fill('should not exist');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.waitForSelector('text=Form expired');
    await page.goto(`${platform.url}/dashboard/t/acme/keys`);
    expect(await page.content()).not.toContain('should not exist');
    expect(await page.content()).not.toContain('evil');
  });

  it('manages users and roles', async () => {
    await page.goto(`${platform.url}/dashboard/t/acme/users`);
    await page.getByLabel('Email', { exact: true }).fill('bob@acme.test');
    await page.getByLabel('Initial password').fill('Another-Good-Pass-1');
    await page.getByLabel('Role', { exact: true }).selectOption('read-only');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.waitForSelector('text=Added bob@acme.test as read-only.');
    await page.getByLabel('Role of bob@acme.test').selectOption('member');
    await page.locator('tr', { hasText: 'bob@acme.test' }).getByRole('button', { name: 'Change role' }).click();
    await page.waitForSelector('text=Role changed.');
    expect(await page.locator('tr', { hasText: 'bob@acme.test' }).locator('td').nth(1).textContent()).toBe('member');
    await shot('users');
  });

  it('resets a user’s password from the users page', async () => {
    await page.goto(`${platform.url}/dashboard/t/acme/users`);
    await page.getByLabel('New password for bob@acme.test').fill('Reset-Good-Pass-22');
    await page.getByRole('button', { name: 'Reset the password of bob@acme.test' }).click();
    await page.waitForSelector('text=Password reset.');
  });

  it('calls tools in the playground as the signed-in user: images render, strings stay text, the audit event is shown', async () => {
    await page.goto(`${platform.url}/dashboard/t/acme/servers`);
    await page.getByRole('link', { name: 'Playground' }).click();
    await page.getByRole('link', { name: 'Everything' }).click();
    await page.waitForURL(/\/playground\/everything$/);
    await page.locator('[data-tool="test_image_content"]').getByRole('button', { name: 'Call test_image_content' }).click();
    const image = page.locator('img.result-image');
    await image.waitFor();
    // The playground's CSP admits data: images; the picture actually decodes.
    expect(
      await image.evaluate(
        (img) => (img as unknown as { complete: boolean; naturalWidth: number }).complete && (img as unknown as { naturalWidth: number }).naturalWidth > 0,
      ),
    ).toBe(true);

    await page.getByRole('link', { name: 'Notes' }).click();
    const hostile = '<img src=x onerror=alert(1)>';
    let dialogs = 0;
    page.on('dialog', (d) => (dialogs++, d.dismiss()));
    await page.locator('[data-tool="add_note"]').getByLabel('title', { exact: true }).fill(hostile);
    await page.locator('[data-tool="add_note"]').getByRole('button', { name: 'Call add_note' }).click();
    await page.locator('[data-result="ok"]').waitFor();
    expect(await page.locator('.result-text').first().textContent()).toContain(hostile);
    expect(await page.locator('main img').count()).toBe(0);
    expect(dialogs).toBe(0);
    // The call's audit event: shown at once, or after "Look again" once the session's outbox has shipped.
    for (let i = 0; i < 20 && !(await page.locator('[data-audit-event]').count()); i++) {
      await page.waitForTimeout(500);
      await page.locator('[data-audit-retry]').click();
    }
    const audit = page.locator('[data-audit-event]');
    expect(await audit.textContent()).toContain('tools/call');
    expect(await audit.textContent()).toContain('add_note');
    expect(await audit.textContent()).toContain('smcp-dashboard-playground');
    await shot('playground');
  });

  it('gives a read-only user only read-only tools; a forged write call is refused by the platform', async () => {
    const reader = { email: 'rita@acme.test', password: 'Reader-Good-Pass-3' };
    expect((await adminApi(platform, '/tenants/acme/users', { ...reader, role: 'read-only' })).status).toBe(201);
    const readerContext = await browser.newContext();
    const p = await readerContext.newPage();
    await signIn(p, reader);
    await p.getByRole('link', { name: 'Playground' }).click();
    await p.getByRole('link', { name: 'Notes' }).click();
    await p.locator('[data-tool="list_notes"]').waitFor();
    expect(await p.locator('[data-tool="add_note"]').count()).toBe(0);
    expect(await p.locator('[data-tool="delete_note"]').count()).toBe(0);
    // Forge the form: point the list_notes form at add_note and submit it.
    await p.locator('[data-tool="list_notes"] input[name="tool"]').evaluate((input) => void ((input as unknown as { value: string }).value = 'add_note'));
    await p.locator('[data-tool="list_notes"]').getByRole('button', { name: 'Call list_notes' }).click();
    await p.locator('[data-result="refused"], [data-result="tool-error"]').first().waitFor();
    expect(await p.locator('#result-title').textContent()).toContain('add_note');
    await readerContext.close();
  });

  it('is usable from the keyboard: a skip link first, then the navigation', async () => {
    await page.goto(`${platform.url}/dashboard/t/acme/servers`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.id')).toBe('content');
  });

  it('signs out: the session is gone server-side', async () => {
    const before = (await context.cookies()).find((c) => c.name === '__Host-smcp-dash')!;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/dashboard\/sign-in$/);
    const replay = await fetch(`${platform.url}/dashboard/t/acme/keys`, { redirect: 'manual', headers: { cookie: `${before.name}=${before.value}` } });
    expect(replay.status).toBe(303);
    expect(replay.headers.get('location')).toBe('/dashboard/sign-in');
  });

  it('lets the operator sign in with the operator token and suspend and resume a tenant', async () => {
    await page.goto(`${platform.url}/dashboard/operator/sign-in`);
    await page.getByLabel('Operator token').fill(platform.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/dashboard\/operator$/);
    const acme = page.locator('tr[data-tenant="acme"]');
    expect(Number(await acme.locator('td').nth(5).textContent())).toBeGreaterThan(0);
    await shot('operator');
    await acme.getByRole('button', { name: 'Suspend Acme Corp' }).click();
    await page.waitForSelector('text=Tenant suspended.');
    expect(await acme.locator('.badge').textContent()).toBe('suspended');
    const suspended = await fetch(`${platform.url}/admin/api/tenants/acme`, { headers: { authorization: `Bearer ${platform.adminToken}` } });
    expect(((await suspended.json()) as { status: string }).status).toBe('suspended');
    await acme.getByRole('button', { name: 'Resume Acme Corp' }).click();
    await page.waitForSelector('text=Tenant resumed.');
    expect(await acme.locator('.badge').textContent()).toBe('active');
  });

  it('ran every page without a CSP violation', () => {
    expect(cspViolations).toEqual([]);
  });
});
