import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startPlatform, type RunningPlatform } from '../../scripts/lib/local-platform.ts';
import { signatureHeader, verifySignature } from '../../src/alerts/alert-signature.ts';
import { adminCall, connectClient, tenantWithKeys } from '../support/gateway-harness.ts';
import { startUpstream, type UpstreamFixture } from '../support/upstream-fixture.ts';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { runNode } from '../support/run-node.ts';
import { eventually } from '../support/eventually';

// Alerts end to end: wrangler dev, a real SDK upstream on loopback, webhook receivers on
// 127.0.0.1 (SMCP_ALLOW_PRIVATE_UPSTREAMS=true, as in every local platform), retries shortened
// with SMCP_ALERT_RETRY_BASE_MS. Evaluations are triggered through the admin API
// (POST .../alerts/evaluate) rather than waiting for the minute alarm; retries run on the alarm.

let platform: RunningPlatform;
let stateDir: string;
let up: UpstreamFixture;
const receivers: WebhookReceiver[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Verify a delivery the way a tenant would, with node's own HMAC (independent of the platform's code). */
function validSignature(secret: string, header: string, body: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex')) && Math.abs(Date.now() / 1000 - Number(m[1])) < 300;
}

const api = (method: string, path: string, body?: unknown, token?: string) => adminCall(platform, method, path, body, token);

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'smcp-alerts-'));
  platform = await startPlatform({
    stateDir,
    adminToken: 'alerts-operator-token-0123456789',
    secret: 'alerts-secret-'.padEnd(48, 'z'),
    vars: { SMCP_ALERT_RETRY_BASE_MS: '300' },
  });
  up = await startUpstream();
}, 180_000);

afterAll(async () => {
  for (const r of receivers) await r.close();
  await up?.close();
  await platform?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe('alert signatures', () => {
  it('match the test vector in docs/gateway.md, computed here with node:crypto', async () => {
    const doc = readFileSync(join(ROOT, 'docs', 'gateway.md'), 'utf8');
    const secret = /signing secret: `([^`]+)`/.exec(doc)?.[1];
    const t = Number(/timestamp: `(\d+)`/.exec(doc)?.[1]);
    const body = /body: `([^`]+)`/.exec(doc)?.[1];
    const header = /header: `SMCP-Signature: ([^`]+)`/.exec(doc)?.[1];
    expect(secret && t && body && header, 'test vector present in docs/gateway.md').toBeTruthy();
    expect(`t=${t},v1=${createHmac('sha256', secret!).update(`${t}.${body}`).digest('hex')}`).toBe(header);
    expect(await signatureHeader(secret!, t, body!)).toBe(header);
    expect(await verifySignature(secret!, header!, body!)).toBe(true);
    expect(await verifySignature(secret!, header!, body!.replace('}', ' }'))).toBe(false);
    expect(await verifySignature('whsec_other', header!, body!)).toBe(false);
    expect(await verifySignature(secret!, header!, body!, t + 301)).toBe(false);
  });
});

describe('alerts end to end', () => {
  it('one signed alert when the breaker opens, none while it stays open, one on recovery; audited', async () => {
    const keys = await tenantWithKeys(platform, 'acme');
    const reg = await api('POST', '/tenants/acme/upstreams', { name: 'files', url: up.url, settings: { failureThreshold: 1, cooldownMs: 200, retries: 0 } });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const hook = await startReceiver();
    receivers.push(hook);

    const bad = await api('POST', '/tenants/acme/alerts', { server: 'files', metric: 'error_rate', threshold: 2, webhookUrl: hook.url }, keys.admin);
    expect(bad.status).toBe(400);
    expect((await api('POST', '/tenants/acme/alerts', { server: 'files', metric: 'nope', webhookUrl: hook.url }, keys.admin)).status).toBe(400);
    expect((await api('POST', '/tenants/acme/alerts', { server: 'files', metric: 'breaker_open', webhookUrl: hook.url }, keys.member)).status).toBeOneOf([
      401, 403,
    ]);

    const created = await api('POST', '/tenants/acme/alerts', { server: 'files', metric: 'breaker_open', windowMinutes: 1, webhookUrl: hook.url }, keys.admin);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { id, secret } = created.body as { id: string; secret: string };
    expect(secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    const listed = await api('GET', '/tenants/acme/alerts', undefined, keys.admin);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    expect(listed.body.alerts.map((a: { id: string }) => a.id)).toEqual([id]);

    // Healthy: no transition, nothing sent.
    expect((await api('POST', '/tenants/acme/alerts/evaluate', undefined, keys.admin)).body).toMatchObject({ evaluated: 1, transitions: 0 });
    expect(hook.received).toHaveLength(0);

    // The upstream goes down; one failed call opens the breaker (failureThreshold 1).
    up.behaviour.down = '503';
    const client = await connectClient(platform, 'files', keys.member).catch(() => null);
    await client?.callTool({ name: 'echo', arguments: { text: 'x' } }).catch(() => null);
    await eventually(async () => (await api('GET', '/tenants/acme/upstreams/files')).body.state?.breaker?.state === 'open', 'breaker open');

    expect((await api('POST', '/tenants/acme/alerts/evaluate', undefined, keys.admin)).body).toMatchObject({ transitions: 1, delivered: 1 });
    await api('POST', '/tenants/acme/alerts/evaluate', undefined, keys.admin);
    await api('POST', '/tenants/acme/alerts/evaluate', undefined, keys.admin);
    expect(hook.received).toHaveLength(1);
    const firing = hook.received[0]!;
    expect(validSignature(secret, String(firing.headers['smcp-signature']), firing.body)).toBe(true);
    expect(validSignature('whsec_' + '0'.repeat(64), String(firing.headers['smcp-signature']), firing.body)).toBe(false);
    expect(JSON.parse(firing.body)).toMatchObject({ type: 'alert.firing', tenant: 'acme', value: 1, rule: { id, server: 'files', metric: 'breaker_open' } });
    expect((await api('GET', `/tenants/acme/alerts/${id}`, undefined, keys.admin)).body).toMatchObject({ state: 'firing', lastValue: 1 });

    // Recovery: the upstream is back, a call after the cooldown closes the breaker.
    up.behaviour.down = null;
    await eventually(async () => {
      await (await connectClient(platform, 'files', keys.member).catch(() => null))?.callTool({ name: 'echo', arguments: { text: 'y' } }).catch(() => null);
      return (await api('GET', '/tenants/acme/upstreams/files')).body.state?.breaker?.state === 'closed';
    }, 'breaker closed');
    expect((await api('POST', '/tenants/acme/alerts/evaluate', undefined, keys.admin)).body).toMatchObject({ transitions: 1, delivered: 1 });
    await api('POST', '/tenants/acme/alerts/evaluate', undefined, keys.admin);
    expect(hook.received).toHaveLength(2);
    const resolved = hook.received[1]!;
    expect(validSignature(secret, String(resolved.headers['smcp-signature']), resolved.body)).toBe(true);
    expect(JSON.parse(resolved.body)).toMatchObject({ type: 'alert.resolved', value: 0, rule: { id } });

    // Audited: the two transitions and the two deliveries (the store trails the outbox by a few seconds).
    await eventually(async () => {
      const events = (await api('GET', '/tenants/acme/audit?limit=200')).body.events as Array<{ action: string; result: string; resource: string }>;
      const mine = events.filter((e) => e.resource === id);
      const n = (action: string) => mine.filter((e) => e.action === action).length;
      return n('alert.firing') === 1 && n('alert.resolved') === 1 && n('alert.delivery') === 2 && n('admin.alert.create') === 1;
    }, 'alert audit events');
  });

  it('a failing receiver gets retries with back-off until it accepts, each attempt the same signed alert', async () => {
    const hook = await startReceiver();
    receivers.push(hook);
    hook.statuses.push(500, 503);
    const created = await api('POST', '/tenants/acme/alerts', { server: 'files', metric: 'error_rate', threshold: 0, windowMinutes: 60, webhookUrl: hook.url });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    // The failed call of the previous test reaches the tenant's metrics a few seconds after it happened.
    await eventually(async () => ((await api('POST', '/tenants/acme/alerts/evaluate')).body.transitions as number) > 0, 'error-rate crossing');
    await eventually(async () => hook.received.length >= 3, 'two retries after two failures', 240);
    await sleep(1500);
    expect(hook.received).toHaveLength(3);
    const bodies = new Set(hook.received.map((r) => r.body));
    expect(bodies.size).toBe(1);
    for (const r of hook.received) expect(validSignature(created.body.secret, String(r.headers['smcp-signature']), r.body)).toBe(true);
    expect(JSON.parse(hook.received[0]!.body)).toMatchObject({ type: 'alert.firing', rule: { id: created.body.id, metric: 'error_rate' } });
  });

  it('the CLI adds, lists, changes and removes a rule, printing the secret only when it is created', async () => {
    const smcp = (args: string[]) =>
      runNode(join(ROOT, 'scripts', 'smcp.ts'), ['--url', platform.url, ...args], { ...process.env, SMCP_TOKEN: platform.adminToken });
    const hook = await startReceiver();
    receivers.push(hook);
    const added = await smcp(['alert', 'add', 'acme', 'files', 'p99_latency_ms', hook.url, '--threshold', '750', '--window', '10']);
    expect(added.code, added.stderr).toBe(0);
    const rule = JSON.parse(added.stdout) as { id: string; secret: string; threshold: number; windowMinutes: number };
    expect(rule).toMatchObject({ threshold: 750, windowMinutes: 10, metric: 'p99_latency_ms' });
    expect(rule.secret).toMatch(/^whsec_/);
    const listed = await smcp(['alert', 'list', 'acme']);
    expect(listed.stdout).toContain(rule.id);
    expect(listed.stdout).not.toContain(rule.secret);
    expect(JSON.parse((await smcp(['alert', 'set', 'acme', rule.id, '--threshold', '900'])).stdout).threshold).toBe(900);
    expect(JSON.parse((await smcp(['alert', 'disable', 'acme', rule.id])).stdout).enabled).toBe(false);
    const bad = await smcp(['alert', 'add', 'acme', 'files', 'cpu', hook.url]);
    expect(bad.code).not.toBe(0);
    expect((await smcp(['alert', 'remove', 'acme', rule.id])).code).toBe(0);
    expect((await smcp(['alert', 'list', 'acme'])).stdout).not.toContain(rule.id);
  });
});
