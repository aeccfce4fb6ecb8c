import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import { CallToolRequestSchema, CallToolResultSchema, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { HostedMcpAgent, type HostedServerInfo } from '../hosted/hosted-mcp-agent';
import type { HandlerExtra } from '../hosted/choke-point';
import { tenantNamespace, type Principal } from '../hosted/principal';
import { denyReason, type ToolPolicySource } from '../hosted/tool-policy';
import { RpcCode } from '../http/responses';
import { log } from '../observability/log';
import { decodeModuleRef, MODULE_HEADER, type ModuleRef } from './module-ref';
import { compiledCode } from './module-store';
import { callInSandbox, describeModule, type SandboxSpec, type ToolDefinition } from './sandbox';

/** JSON-RPC code for a tool stopped by the sandbox's limits (server-defined range). */
export const SANDBOX_FAULT_CODE = -32010;

type Validator = (input: unknown) => { valid: boolean; errorMessage?: string };

interface LoadedModule {
  key: string;
  spec: SandboxSpec;
  tools: Map<string, ToolDefinition>;
  validators: Map<string, Validator>;
}

const validatorFactory = new CfWorkerJsonSchemaValidator();

/**
 * Serves every tenant-deployed module (`/servers/<name>/mcp` where `<name>` is a module the tenant
 * deployed), one Durable Object per MCP session, as GatewayServer serves every upstream. The
 * protocol stays in platform code: this class lists the module's tools, checks each call's arguments
 * against the tool's `inputSchema` (@cfworker/json-schema, here, not in the sandbox), applies role
 * policy from the tool's annotations through the base class, and only then runs the tool's `run` in
 * the tenant's sandbox isolate (sandbox.ts) under per-call limits. Faults (budget, deadline, crash,
 * oversized result) become JSON-RPC errors and `tenant_server.fault` audit events.
 */
export class TenantModuleServer extends HostedMcpAgent {
  protected override readonly info: HostedServerInfo = {
    name: 'smcp-tenant-server',
    version: '0.1.0',
    capabilities: { tools: { listChanged: true }, logging: {} },
  };

  private loaded: LoadedModule | null = null;

  protected override register(server: McpServer): void {
    const low = server.server;
    low.setRequestHandler(ListToolsRequestSchema, async (_req, extra) => {
      const module = await this.module(extra);
      return { tools: [...module.tools.values()].map(({ name, title, description, inputSchema, annotations, _meta }) => ({ name, title, description, inputSchema, annotations, _meta })) };
    });
    low.setRequestHandler(CallToolRequestSchema, (req, extra) => this.callTool(req.params, extra));
  }

  /**
   * Role policy from the module's own tool annotations (readOnlyHint, `_meta["smcp/minRole"]`). The
   * base class asks before the handler runs, when a fresh session may not have loaded the module yet
   * (the version comes with the request), so `callTool` applies the same `denyReason` again once the
   * module is loaded: no call reaches the sandbox unchecked.
   */
  protected override toolPolicy(name: string): ToolPolicySource | undefined {
    return policyOf(this.loaded?.tools.get(name));
  }

  /** The module version the gate forwarded, loaded (the sandbox isolate is cached by the loader). */
  private async module(extra: HandlerExtra): Promise<LoadedModule> {
    const header = extra.requestInfo?.headers?.[MODULE_HEADER];
    const ref = decodeModuleRef(Array.isArray(header) ? header[0] : header);
    if (!ref) throw new McpError(ErrorCode.InternalError, 'No module version for this request');
    const principal = this.principal();
    const key = `${tenantNamespace(principal)}/${principal.server}/v${ref.version}/${ref.sha256.slice(0, 16)}/${ref.egress.join(',')}`;
    if (this.loaded?.key === key) return this.loaded;
    const spec = this.spec(principal, ref, key);
    const described = await describeModule(this.env.LOADER, spec);
    if ('problem' in described) throw new McpError(SANDBOX_FAULT_CODE, `Server "${principal.server}" could not be loaded: ${described.problem}`);
    const changed = this.loaded !== null;
    this.loaded = { key, spec, tools: new Map(described.tools.map((t) => [t.name, t])), validators: new Map() };
    if (changed) this.server.sendToolListChanged();
    return this.loaded;
  }

  /** The sandbox of one version: capability stubs bound to the caller's tenant, no network unless granted. */
  private spec(principal: Principal, ref: ModuleRef, key: string): SandboxSpec {
    const exports = (this.ctx as unknown as { exports: Record<string, (o: { props: unknown }) => Fetcher> }).exports;
    const tenantId = principal.tenantId;
    const namespace = tenantNamespace(principal);
    const server = principal.server;
    return {
      id: `module:${key}`,
      compiled: async () => {
        const code = await compiledCode(this.env.DB, tenantId, server, ref.version);
        if (code === null) throw new Error('module version not found');
        return code;
      },
      env: { KV: exports.TenantKvCapability!({ props: { namespace } }), FILES: exports.TenantFilesCapability!({ props: { namespace } }) },
      globalOutbound: ref.egress.length > 0 ? exports.EgressGate!({ props: { tenantId, server, allow: ref.egress } }) : null,
    };
  }

  private async callTool(params: { name: string; arguments?: Record<string, unknown>; _meta?: { progressToken?: string | number } }, extra: HandlerExtra) {
    const module = await this.module(extra);
    const tool = module.tools.get(params.name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Tool ${params.name} not found`);
    const principal = this.principal();
    const refusal = denyReason(principal, tool.name, policyOf(tool));
    if (refusal) {
      log('warn', 'denied', { reason: refusal, tenant: principal.tenantId, server: principal.server, tool: tool.name });
      throw new McpError(RpcCode.Forbidden, refusal);
    }
    const args = params.arguments ?? {};
    let validate = module.validators.get(tool.name);
    if (!validate) module.validators.set(tool.name, (validate = validatorFactory.getValidator(tool.inputSchema as never) as Validator));
    const checked = validate(args);
    if (!checked.valid) throw new McpError(ErrorCode.InvalidParams, `Invalid arguments for tool ${tool.name}: ${checked.errorMessage ?? 'does not match inputSchema'}`);

    const caller = { tenant: principal.tenantId, role: principal.role, user: principal.userId, kind: principal.kind, server: principal.server };
    const outcome = await callInSandbox(this.env.LOADER, module.spec, tool.name, args, caller, this.hooks(extra, params._meta?.progressToken));
    if (outcome.kind === 'tool_error') return { content: [{ type: 'text' as const, text: outcome.message }], isError: true };
    if (outcome.kind === 'result') {
      const parsed = CallToolResultSchema.safeParse(safeJson(outcome.json));
      if (parsed.success) return parsed.data;
      return this.fault(principal, tool.name, 'invalid_result', `Tool "${tool.name}" returned something that is not an MCP tool result`);
    }
    return this.fault(principal, tool.name, outcome.reason, outcome.message);
  }

  private async fault(principal: Principal, tool: string, reason: string, message: string): Promise<never> {
    this.recordAudit({ tenant: principal.tenantId, action: 'tenant_server.fault', result: 'error', server: principal.server, resource: tool, user: principal.userId, client: principal.clientId, details: { reason } });
    throw new McpError(SANDBOX_FAULT_CODE, message);
  }

  /** Progress and logging for the sandbox, as RPC callbacks; what the sandbox sends is checked and bounded. */
  private hooks(extra: HandlerExtra, progressToken: string | number | undefined) {
    let logs = 0;
    const logger = this.principal().server; // the callbacks run outside the request's principal scope
    return {
      progress: async (progress: unknown, total?: unknown, message?: unknown) => {
        if (progressToken === undefined || typeof progress !== 'number' || !Number.isFinite(progress)) return;
        const params = { progressToken, progress, total: typeof total === 'number' && Number.isFinite(total) ? total : undefined, message: typeof message === 'string' ? message.slice(0, 1000) : undefined };
        await extra.sendNotification({ method: 'notifications/progress', params }).catch(() => undefined);
      },
      log: async (level: unknown, data: unknown) => {
        if (++logs > 100) return;
        const levels = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
        const lvl = levels.includes(level as (typeof levels)[number]) ? (level as (typeof levels)[number]) : 'info';
        const text = typeof data === 'string' ? data : JSON.stringify(data ?? null);
        await extra.sendNotification({ method: 'notifications/message', params: { level: lvl, logger, data: (text ?? '').slice(0, 8192) } }).catch(() => undefined);
      },
    };
  }
}

function policyOf(tool: ToolDefinition | undefined): ToolPolicySource | undefined {
  return tool ? { annotations: tool.annotations as ToolPolicySource['annotations'], _meta: tool._meta } : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
