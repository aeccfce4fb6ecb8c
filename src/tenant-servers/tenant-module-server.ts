import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import { HostedMcpAgent, type HostedServerInfo } from '../hosted/hosted-mcp-agent';
import type { HandlerExtra } from '../hosted/choke-point';
import { denyReason, type ToolPolicySource } from '../hosted/tool-policy';
import { RpcCode } from '../http/responses';
import { log } from '../observability/log';
import { decodeModuleRef, MODULE_HEADER } from './module-ref';
import { moduleKey, moduleSandboxSpec, runModuleTool, type Exports } from './module-sandbox';
import { describeModule, SANDBOX_FAULT_CODE, type SandboxSpec, type ToolDefinition } from './sandbox';

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
      return {
        tools: [...module.tools.values()].map(({ name, title, description, inputSchema, annotations, _meta }) => ({
          name,
          title,
          description,
          inputSchema,
          annotations,
          _meta,
        })),
      };
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
    const key = moduleKey(principal, ref);
    if (this.loaded?.key === key) return this.loaded;
    const spec = moduleSandboxSpec(this.env, (this.ctx as unknown as { exports: Exports }).exports, principal, ref);
    const described = await describeModule(this.env.LOADER, spec);
    if ('problem' in described) throw new McpError(SANDBOX_FAULT_CODE, `Server "${principal.server}" could not be loaded: ${described.problem}`);
    const changed = this.loaded !== null;
    this.loaded = { key, spec, tools: new Map(described.tools.map((t) => [t.name, t])), validators: new Map() };
    if (changed) this.server.sendToolListChanged();
    return this.loaded;
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
    if (!checked.valid)
      throw new McpError(ErrorCode.InvalidParams, `Invalid arguments for tool ${tool.name}: ${checked.errorMessage ?? 'does not match inputSchema'}`);

    const progressToken = params._meta?.progressToken;
    const outcome = await runModuleTool(this.env.LOADER, module.spec, tool.name, args, principal, {
      progress: async (progress, total, message) => {
        if (progressToken !== undefined)
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress, total, message } });
      },
      log: (level, data) => extra.sendNotification({ method: 'notifications/message', params: { level, logger: principal.server, data } }),
    });
    if ('result' in outcome) return outcome.result;
    this.recordAudit({
      tenant: principal.tenantId,
      action: 'tenant_server.fault',
      result: 'error',
      server: principal.server,
      resource: tool.name,
      user: principal.userId,
      client: principal.clientId,
      details: { reason: outcome.fault.reason },
    });
    throw new McpError(SANDBOX_FAULT_CODE, outcome.fault.message);
  }
}

function policyOf(tool: ToolDefinition | undefined): ToolPolicySource | undefined {
  return tool ? { annotations: tool.annotations as ToolPolicySource['annotations'], _meta: tool._meta } : undefined;
}
