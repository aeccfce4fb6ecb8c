import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Role } from '../../src/tenancy/model';
import { modernCall } from '../worker/modern-client';
import { addUser, call, createKey, createTenant, obtainToken, openSession } from '../worker/platform-client';

/**
 * The test kit for server authors. A test starts a real session on its server, inside workerd,
 * through the whole platform (router, OAuth resource server, gate, owner-bound session id, choke
 * point) as a caller of a given tenant and role, then calls tools:
 *
 * ```ts
 * const s = await startSession('weather', { role: 'read-only' });
 * expect(s.text(await s.callTool('forecast', { city: 'Oslo' }))).toContain('Oslo');
 * ```
 *
 * Tenants are created through the admin API; credentials are an API key with the role (default)
 * or an OAuth token from the full flow (DCR, PKCE, sign-in, consent) with `auth: 'oauth'`.
 */

export interface SessionOptions {
  /** Role of the caller (default `member`). */
  role?: Role;
  /** Use an existing tenant (from `newTenant` or another session's `tenantId`); default: a fresh one. */
  tenant?: string;
  /** Servers enabled on a fresh tenant (default: just the server under test). */
  servers?: string[];
  /** `api-key` (default, fast) or `oauth` (the full authorization code flow). */
  auth?: 'api-key' | 'oauth';
  /** `2025` (default): an initialized session; `2026-07-28`: stateless requests, no session. */
  era?: '2025' | '2026-07-28';
  /** Client capabilities declared on every stateless request (2026-07-28 only). */
  capabilities?: Record<string, unknown>;
}

/** A JSON-RPC error answer (permission denied, unknown tool, invalid params …). */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`JSON-RPC error ${code}: ${message}`);
  }
}

export interface TestSession {
  readonly server: string;
  readonly tenantId: string;
  readonly role: Role;
  /** The bearer used (API key or access token), for raw requests through `platform-client`. */
  readonly token: string;
  /** The sealed `Mcp-Session-Id` (empty for a stateless 2026-07-28 caller). */
  readonly sessionId: string;
  /** Any MCP method; resolves to `result`, throws `RpcError` for a JSON-RPC error. */
  request<T = any>(method: string, params?: unknown): Promise<T>;
  /** `tools/call`; tool errors come back as results with `isError: true`. */
  callTool(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  /** Names of the tools this caller sees (`tools/list`, already filtered by role). */
  listTools(): Promise<string[]>;
  readResource(uri: string): Promise<any>;
  getPrompt(name: string, args?: Record<string, string>): Promise<any>;
  /** Text of the first text (or embedded text resource) content of a tool result. */
  text(result: CallToolResult): string;
  /** That text parsed as JSON. */
  json<T = any>(result: CallToolResult): T;
}

/** A fresh tenant with `servers` enabled, to share between sessions of several roles. */
export function newTenant(servers: string[]): Promise<string> {
  return createTenant(servers);
}

async function credential(tenantId: string, server: string, role: Role, auth: 'api-key' | 'oauth'): Promise<string> {
  if (auth === 'api-key') return (await createKey(tenantId, role)).key;
  return (await obtainToken(await addUser(tenantId, role), server)).access_token;
}

/**
 * Open an initialized MCP session on `server` as a caller with the given tenant and role, or (with
 * `era: '2026-07-28'`) a stateless caller whose every request carries the per-request envelope.
 */
export async function startSession(server: string, options: SessionOptions = {}): Promise<TestSession> {
  const role = options.role ?? 'member';
  const tenantId = options.tenant ?? (await createTenant(options.servers ?? [server]));
  const token = await credential(tenantId, server, role, options.auth ?? 'api-key');
  const stateless = options.era === '2026-07-28';
  const sessionId = stateless ? '' : await openSession(server, token);

  const request = async (method: string, params: unknown = {}) => {
    const { status, message } = stateless
      ? await modernCall(server, token, method, params as Record<string, unknown>, { capabilities: options.capabilities })
      : await call(server, token, sessionId, method, params);
    if (message?.error) throw new RpcError(message.error.code, message.error.message);
    if (status !== 200 || !message) throw new Error(`${method}: HTTP ${status} ${JSON.stringify(message)}`);
    return message.result;
  };
  const text = (result: CallToolResult) => {
    for (const c of result.content ?? []) {
      if (c.type === 'text') return c.text;
      if (c.type === 'resource' && 'text' in c.resource) return c.resource.text;
    }
    throw new Error(`no text content in ${JSON.stringify(result)}`);
  };
  return {
    server,
    tenantId,
    role,
    token,
    sessionId,
    request,
    callTool: (name, args = {}) => request('tools/call', { name, arguments: args }),
    listTools: async () => ((await request('tools/list')).tools as Array<{ name: string }>).map((t) => t.name),
    readResource: (uri) => request('resources/read', { uri }),
    getPrompt: (name, args = {}) => request('prompts/get', { name, arguments: args }),
    text,
    json: (result) => {
      const body = text(result);
      try {
        return JSON.parse(body);
      } catch {
        throw new Error(`tool result is not JSON${result.isError ? ' (isError)' : ''}: ${body}`);
      }
    },
  };
}
