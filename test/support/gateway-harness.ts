/**
 * Shared setup for the gateway end-to-end tests: a real platform (`wrangler dev`), tenants with
 * API keys, upstream registration through the admin API, and the official SDK client connected to
 * `/servers/<name>/mcp` with an API key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { admin, startPlatform, type RunningPlatform } from '../../scripts/lib/local-platform.ts';

export interface Harness {
  platform: RunningPlatform;
  stateDir: string;
  stop(): Promise<void>;
}

export async function startHarness(prefix: string): Promise<Harness> {
  const stateDir = mkdtempSync(join(tmpdir(), `smcp-${prefix}-`));
  const platform = await startPlatform({ stateDir, adminToken: `${prefix}-operator-token-0123456789`, secret: `${prefix}-secret-`.padEnd(48, 'z') });
  return {
    platform,
    stateDir,
    stop: async () => {
      await platform.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Call the admin API as the operator (or with `token`). */
export async function adminCall(
  platform: RunningPlatform,
  method: string,
  path: string,
  body?: unknown,
  token = platform.adminToken,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${platform.url}/admin/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A tenant with API keys for each role; returns the keys. */
export async function tenantWithKeys(platform: RunningPlatform, id: string): Promise<Record<'admin' | 'member' | 'read-only', string>> {
  const created = await admin(platform, '/tenants', { id, name: id, servers: [] });
  if (created.status !== 201) throw new Error(`tenant ${id}: ${created.status} ${JSON.stringify(created.body)}`);
  const keys = {} as Record<'admin' | 'member' | 'read-only', string>;
  for (const role of ['admin', 'member', 'read-only'] as const) {
    const k = await admin(platform, `/tenants/${id}/keys`, { name: role, role });
    keys[role] = k.body.key;
  }
  return keys;
}

/** Connect the official SDK client to `/servers/<name>/mcp` with an API key. */
export async function connectClient(platform: RunningPlatform, name: string, key: string, capabilities: Record<string, unknown> = {}): Promise<Client> {
  const client = new Client({ name: 'gateway-e2e', version: '1.0.0' }, { capabilities });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${platform.url}/servers/${name}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
  );
  return client;
}

/** The text of a tool result's first text block. */
export function text(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.find((c) => c.type === 'text')?.text ?? '';
}
