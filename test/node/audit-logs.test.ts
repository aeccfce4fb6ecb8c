import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { admin, startPlatform, type RunningPlatform } from '../../scripts/lib/local-platform.ts';

// The Worker's own log lines (wrangler --log-level log) and the audit export, after calls whose
// arguments hold secrets: neither may contain a secret, an API key or the operator token.

const OPERATOR = 'audit-logs-operator-token-0123456789';
const SECRETS = ['hunter2-LOGCHECK', 'BODY-LOGCHECK', 'TOKEN-LOGCHECK'];
let platform: RunningPlatform;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'smcp-audit-logs-'));
  platform = await startPlatform({ stateDir, adminToken: OPERATOR, secret: 'audit-logs-secret-'.padEnd(48, 'z'), logLevel: 'log', outputLimit: 5_000_000 });
}, 120_000);

afterAll(async () => {
  await platform?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

async function rpc(key: string, body: unknown, session?: string): Promise<Response> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${key}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-06-18',
  };
  if (session) headers['mcp-session-id'] = session;
  return fetch(`${platform.url}/servers/notes/mcp`, { method: 'POST', headers, body: JSON.stringify(body) });
}

async function session(key: string): Promise<string> {
  const init = await rpc(key, {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'audit-logs', version: '1' } },
  });
  expect(init.status).toBe(200);
  await init.text();
  const id = init.headers.get('mcp-session-id')!;
  await (await rpc(key, { jsonrpc: '2.0', method: 'notifications/initialized' }, id)).text();
  return id;
}

it('never writes a secret argument, an API key or the operator token to logs or audit events', async () => {
  expect((await admin(platform, '/tenants', { id: 'logs', name: 'Logs', servers: ['notes'] })).status).toBe(201);
  const member = (await admin(platform, '/tenants/logs/keys', { name: 'm', role: 'member' })).body.key as string;
  const reader = (await admin(platform, '/tenants/logs/keys', { name: 'r', role: 'read-only' })).body.key as string;
  const s = await session(member);
  const ok = await rpc(
    member,
    {
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'add_note', arguments: { title: 'visible title', body: 'BODY-LOGCHECK', password: 'hunter2-LOGCHECK' } },
    },
    s,
  );
  expect(await ok.text()).toContain('visible title');
  const r = await session(reader);
  const denied = await rpc(
    reader,
    { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'add_note', arguments: { title: 'x', secret_token: 'TOKEN-LOGCHECK' } } },
    r,
  );
  expect(await denied.text()).toContain('-32003');
  const forged = await rpc(`${member.slice(0, -4)}AAAA`, { jsonrpc: '2.0', id: 4, method: 'ping' });
  expect(forged.status).toBe(401);

  let exported = '';
  for (let i = 0; i < 120 && !(exported.includes('visible title') && exported.includes('"result":"denied"')); i++) {
    await new Promise((res) => setTimeout(res, 250));
    const res = await fetch(`${platform.url}/admin/api/tenants/logs/audit?action=tools/call&format=jsonl`, {
      headers: { authorization: `Bearer ${OPERATOR}` },
    });
    exported = await res.text();
  }
  expect(exported).toContain('visible title');
  expect(exported).toContain('"result":"denied"');
  const logs = platform.output();
  expect(logs).toContain('"event":"denied"'); // the Worker's lines really are captured
  for (const leaked of [...SECRETS, member, reader, member.slice(-20), OPERATOR]) {
    expect(exported, `audit export leaks ${leaked.slice(0, 12)}…`).not.toContain(leaked);
    expect(logs, `logs leak ${leaked.slice(0, 12)}…`).not.toContain(leaked);
  }
}, 120_000);
