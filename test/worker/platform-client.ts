import { expect } from 'vitest';
import { env, runInDurableObject, SELF } from 'cloudflare:test';
import { obtainToken as obtainWith, registerClient as registerWith, type RegisteredClient } from '../support/oauth-flow';

/**
 * Helpers for tests inside workerd: every call goes through the real Worker (`SELF.fetch`) with
 * the real bindings, and tokens come from the real OAuth flow (DCR, PKCE, sign-in, consent).
 */

export const ORIGIN = 'http://localhost:8787';

/** The `notes` session object a Streamable HTTP session id names (the object is named by the id's part before the dot). */
export const notesSessionObject = (sessionId: string) => env.NOTES_SERVER.get(env.NOTES_SERVER.idFromName(`streamable-http:${sessionId.split('.')[0]}`));

/** Evict a Durable Object from memory, as the runtime does when it is idle: its storage stays, and its next request starts it again. */
export const restartObject = (stub: DurableObjectStub) =>
  runInDurableObject(stub, (_instance, state) => state.abort('restart for the test')).catch(() => undefined);
export const OPERATOR = 'test-operator-token-0123456789';
export const PASSWORD = 'Correct-Horse-Battery-9';

const fetcher = (input: string, init?: RequestInit) => SELF.fetch(input, init);

/** POST to the admin API as the operator. */
export async function adminPost(path: string, body: unknown): Promise<Response> {
  return SELF.fetch(`${ORIGIN}/admin/api${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Create a tenant with a fresh unique id and the given servers enabled; returns the id. */
export async function createTenant(servers: string[]): Promise<string> {
  const id = `t-${crypto.randomUUID().slice(0, 8)}`;
  expect((await adminPost('/tenants', { id, name: `Tenant ${id}`, servers })).status).toBe(201);
  return id;
}

/** Add a user with a fresh email and the test password to a tenant; returns the account. */
export async function addUser(tenantId: string, role: 'admin' | 'member' | 'read-only'): Promise<{ email: string; password: string }> {
  const email = `${role}-${crypto.randomUUID().slice(0, 8)}@${tenantId}.test`;
  expect((await adminPost(`/tenants/${tenantId}/users`, { email, password: PASSWORD, role })).status).toBe(201);
  return { email, password: PASSWORD };
}

/** A fresh tenant (unique id) with one user per listed role; returns the accounts by role. */
export async function seedTenant(servers: string[], roles: Array<'admin' | 'member' | 'read-only'> = ['member']) {
  const id = await createTenant(servers);
  const accounts: Record<string, { email: string; password: string }> = {};
  for (const role of roles) accounts[role] = await addUser(id, role);
  return { id, accounts };
}

/** Register a public client by DCR through the Worker. */
export const registerClient = (name?: string, redirect?: string) => registerWith(fetcher, ORIGIN, name, redirect);

/** The full OAuth flow through the Worker: register, authorize with sign-in and consent, exchange. */
export const obtainToken = (
  account: { email: string; password: string; organization?: string },
  server: string,
  transport: 'mcp' | 'sse' = 'mcp',
  client?: RegisteredClient,
) => obtainWith(fetcher, ORIGIN, account, server, transport, client);

/**
 * JSON-RPC messages out of a Streamable HTTP answer (SSE stream or JSON body). Events with empty
 * data (the SDK's priming event for clients on 2025-11-25 or later) carry no message.
 */
export async function rpcMessages(res: Response): Promise<any[]> {
  const text = await res.text();
  if (!res.headers.get('content-type')?.includes('text/event-stream')) return text ? [JSON.parse(text)] : [];
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: ') && line.slice(6).trim() !== '')
    .map((line) => JSON.parse(line.slice(6)));
}

/** One MCP POST to `/servers/<server>/mcp`. */
export function mcpPost(server: string, token: string, message: unknown, sessionId?: string): Promise<Response> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-06-18',
  };
  if (sessionId) headers['mcp-session-id'] = sessionId;
  return SELF.fetch(`${ORIGIN}/servers/${server}/mcp`, { method: 'POST', headers, body: JSON.stringify(message) });
}

/** Initialize a session and send `notifications/initialized`; returns the (sealed) session id. */
export async function openSession(server: string, token: string): Promise<string> {
  const res = await mcpPost(server, token, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'worker-test', version: '1' } },
  });
  expect(res.status).toBe(200);
  const sessionId = res.headers.get('mcp-session-id');
  expect(sessionId).toMatch(/^[0-9a-f]{64}\.[0-9a-f]{32}$/);
  await rpcMessages(res);
  const ack = await mcpPost(server, token, { jsonrpc: '2.0', method: 'notifications/initialized' }, sessionId!);
  expect(ack.status).toBe(202);
  return sessionId!;
}

let nextId = 1;
/** Call a method in a session and return the JSON-RPC response message. */
export async function call(server: string, token: string, sessionId: string, method: string, params: unknown = {}): Promise<{ status: number; message: any }> {
  const id = nextId++;
  const res = await mcpPost(server, token, { jsonrpc: '2.0', id, method, params }, sessionId);
  const messages = await rpcMessages(res);
  return { status: res.status, message: messages.find((m) => m.id === id) ?? messages[0] };
}

/** Any admin API call, as the operator by default or with another bearer (an API key). */
export async function adminCall(method: string, path: string, body?: unknown, bearer = OPERATOR): Promise<{ status: number; body: any }> {
  const init: RequestInit = { method, headers: { authorization: `Bearer ${bearer}` } };
  if (body !== undefined) {
    init.headers = { ...init.headers, 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  const res = await SELF.fetch(`${ORIGIN}/admin/api${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Create an API key through the admin API; returns the id and the secret key. */
export async function createKey(
  tenantId: string,
  role: 'admin' | 'member' | 'read-only',
  extra: Record<string, unknown> = {},
  bearer = OPERATOR,
): Promise<{ id: string; key: string }> {
  const res = await adminCall('POST', `/tenants/${tenantId}/keys`, { name: `${role} key`, role, ...extra }, bearer);
  expect(res.status).toBe(201);
  return res.body;
}
