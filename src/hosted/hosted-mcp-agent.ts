import { AsyncLocalStorage } from 'node:async_hooks';
import { McpAgent } from 'agents/mcp';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import { McpError, type ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { installChokePoint, isGuarded, type HandlerExtra, type RawRequest } from './choke-point';
import { decodePrincipal, ownerKey, PRINCIPAL_HEADER, type Principal } from './principal';
import { denyReason, type ToolPolicySource } from './tool-policy';
import { RpcCode } from '../http/responses';
import { logDenial } from '../observability/log';
import { TenantFiles } from '../storage/tenant-files';
import { TenantKv } from '../storage/tenant-kv';

/** What a hosted server says about itself at initialize. */
export interface HostedServerInfo {
  name: string;
  version: string;
  title?: string;
  instructions?: string;
  capabilities?: ServerCapabilities;
}

const DEFAULT_CAPABILITIES: ServerCapabilities = {
  tools: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  prompts: { listChanged: true },
  logging: {},
  completions: {},
};

const OWNER_KEY = 'smcp:owner';

interface McpServerInternals {
  _registeredTools: Record<string, ToolPolicySource>;
}

/**
 * The base class of every hosted MCP server: one Durable Object per MCP session.
 *
 * Server authors implement `info` and `register(server)`; they never see an unguarded server. Every
 * request handler runs behind `guard`, which (1) requires the principal the gate attached, (2) checks
 * the session belongs to that principal (defence in depth behind the gate's signed session ids),
 * (3) applies per-tool policy and filters `tools/list`, and (4) is the one place later hooks
 * (audit, metrics, limits) attach.
 */
export abstract class HostedMcpAgent extends McpAgent<Env, unknown, Principal> {
  // Assigned in init(); `declare` keeps the class field from resetting it.
  declare server: McpServer;

  /** Name, version and capabilities announced at initialize. */
  protected abstract readonly info: HostedServerInfo;

  /** Register tools, resources and prompts on the (already guarded) server. */
  protected abstract register(server: McpServer): void | Promise<void>;

  private readonly calls = new AsyncLocalStorage<Principal>();
  private owner: string | null | undefined;

  /** @internal Builds the guarded server; authors implement `register` instead. */
  async init(): Promise<void> {
    const { name, version, title, instructions, capabilities } = this.info;
    const server = new McpServer({ name, version, title }, {
      capabilities: capabilities ?? DEFAULT_CAPABILITIES,
      instructions,
      // Ajv compiles validators with eval, which workerd forbids; @cfworker/json-schema interprets.
      jsonSchemaValidator: new CfWorkerJsonSchemaValidator(),
    });
    installChokePoint(server, (method, request, extra, next) => this.guard(method, request, extra, next));
    this.server = server;
    await this.register(server);
    if (!isGuarded(server)) throw new Error(`${name}: request handlers were replaced after setup; refusing to serve unguarded`);
  }

  /** The caller of the request being handled. Throws outside a request (deny by default). */
  protected principal(): Principal {
    const p = this.calls.getStore();
    if (!p) throw new McpError(RpcCode.Forbidden, 'No authenticated principal for this call');
    return p;
  }

  /** KV confined to the calling principal's tenant (keys `tenant-<id>:<type>:<id>`). */
  protected tenantKv(): TenantKv {
    return new TenantKv(this.env.DATA_KV, this.principal().tenantId);
  }

  /** R2 confined to the calling principal's tenant (objects under `tenant-<id>/`). */
  protected tenantFiles(): TenantFiles {
    return new TenantFiles(this.env.FILES, this.principal().tenantId);
  }

  private async guard(method: string, request: RawRequest, extra: HandlerExtra, next: () => Promise<unknown>): Promise<unknown> {
    const principal = decodePrincipal(headerValue(extra, PRINCIPAL_HEADER));
    if (!principal) {
      // The only request without transport info is the SDK replaying the stored initialize after a restart.
      if (method === 'initialize' && !extra.requestInfo) return next();
      logDenial('no authenticated principal', { method });
      throw new McpError(RpcCode.Forbidden, 'Access denied: no authenticated principal');
    }
    await this.bindOwner(principal);
    if (method === 'tools/call') await this.authorizeToolCall(principal, String(request.params?.name ?? ''));
    const result = await this.calls.run(principal, next);
    return method === 'tools/list' ? this.calls.run(principal, () => this.visibleTools(principal, result)) : result;
  }

  private async bindOwner(principal: Principal): Promise<void> {
    const key = ownerKey(principal);
    if (this.owner === undefined) this.owner = (await this.ctx.storage.get<string>(OWNER_KEY)) ?? null;
    if (this.owner === null) {
      await this.ctx.storage.put(OWNER_KEY, key);
      this.owner = key;
    } else if (this.owner !== key) {
      logDenial('session owned by another principal', { tenant: principal.tenantId, principal: key, server: principal.server });
      throw new McpError(RpcCode.SessionNotFound, 'Session not found');
    }
  }

  /**
   * Where the policy of a tool comes from: by default the tool as registered on the server. A server
   * whose tools are not registered through `registerTool` (the gateway relays an upstream's) overrides
   * this so the same role policy applies; runs inside the call, so `principal()` is available.
   */
  protected toolPolicy(name: string): ToolPolicySource | undefined | Promise<ToolPolicySource | undefined> {
    const tools = (this.server as unknown as McpServerInternals)._registeredTools;
    return Object.hasOwn(tools, name) ? tools[name] : undefined;
  }

  private async authorizeToolCall(principal: Principal, toolName: string): Promise<void> {
    const reason = denyReason(principal, toolName, await this.calls.run(principal, () => this.toolPolicy(toolName)));
    if (reason) {
      logDenial(reason, { tenant: principal.tenantId, principal: ownerKey(principal), server: principal.server, tool: toolName });
      throw new McpError(RpcCode.Forbidden, reason);
    }
  }

  private async visibleTools(principal: Principal, result: unknown): Promise<unknown> {
    const listed = result as { tools?: Array<{ name: string }> };
    if (!Array.isArray(listed?.tools)) return result;
    const policies = await Promise.all(listed.tools.map((t) => this.toolPolicy(t.name)));
    return { ...listed, tools: listed.tools.filter((t, i) => denyReason(principal, t.name, policies[i]) === null) };
  }
}

function headerValue(extra: HandlerExtra, name: string): string | undefined {
  const value = extra.requestInfo?.headers?.[name];
  return Array.isArray(value) ? value[0] : value;
}
