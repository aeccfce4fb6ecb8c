import { fromJsonSchema, ProtocolError } from '@modelcontextprotocol/server';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/server/validators/cf-worker';
import { recordAuditInBackground } from '../audit/record';
import { defineServer, type ServerDefinition } from '../hosted/author-api';
import type { Principal } from '../hosted/principal';
import { refuse } from '../hosted/request-guard';
import { rpcError } from '../http/responses';
import { moduleRefOf, type ModuleRef } from './module-ref';
import type { TenantServerRecord } from './module-store';
import { moduleKey, moduleSandboxSpec, runModuleTool, type Exports } from './module-sandbox';
import { describeModule, SANDBOX_FAULT_CODE } from './sandbox';

/** Most module definitions one isolate keeps (one per tenant incarnation, server and version). */
const MAX_CACHED = 200;
const definitions = new Map<string, Promise<ServerDefinition>>();
const validator = new CfWorkerJsonSchemaValidator();

/**
 * A deployed module as a server definition of the platform's author API (src/hosted/author-api.ts),
 * so the stateless 2026-07-28 lane serves it exactly as it serves compiled-in servers: the same
 * guard, role policy from each tool's annotations, one audit event per request, and arguments
 * validated in platform code against the tool's JSON Schema (`fromJsonSchema` with
 * @cfworker/json-schema) before the handler sends them to the sandbox. Cached per isolate by the
 * module key (tenant incarnation, server, version, code hash, egress), never shared across tenants.
 */
export function moduleDefinition(env: Env, exports: Exports, principal: Principal, ref: ModuleRef): Promise<ServerDefinition> {
  const key = moduleKey(principal, ref);
  const cached = definitions.get(key);
  if (cached) return cached;
  const built = build(env, exports, principal, ref);
  if (definitions.size >= MAX_CACHED) definitions.delete(definitions.keys().next().value!);
  definitions.set(key, built);
  built.catch(() => definitions.delete(key));
  return built;
}

/** What the stateless lane needs to serve a deployed module: its definition and a cache key per tenant and version. */
export interface ModernModule {
  key: string;
  /** The definition, or the JSON-RPC error answer when the module cannot be loaded. */
  definition: () => Promise<ServerDefinition | Response>;
}

/** The stateless lane's view of the tenant's active version of a deployed server. */
export function modernModule(env: Env, ctx: ExecutionContext, principal: Principal, record: TenantServerRecord): ModernModule {
  const ref = moduleRefOf(record);
  const exports = (ctx as unknown as { exports: Exports }).exports;
  return {
    key: `module:${moduleKey(principal, ref)}`,
    definition: () =>
      moduleDefinition(env, exports, principal, ref).catch((error: unknown) =>
        rpcError(200, SANDBOX_FAULT_CODE, error instanceof Error ? error.message : 'Server could not be loaded'),
      ),
  };
}

async function build(env: Env, exports: Exports, principal: Principal, ref: ModuleRef): Promise<ServerDefinition> {
  const spec = moduleSandboxSpec(env, exports, principal, ref);
  const described = await describeModule(env.LOADER, spec);
  if ('problem' in described) throw new ProtocolError(SANDBOX_FAULT_CODE, `Server "${principal.server}" could not be loaded: ${described.problem}`);
  return defineServer(
    { name: 'smcp-tenant-server', version: '0.1.0', title: principal.server, capabilities: { tools: { listChanged: true }, logging: {} } },
    (server) => {
      for (const tool of described.tools) {
        const inputSchema = fromJsonSchema(tool.inputSchema as never, validator);
        const annotations = tool.annotations as Record<string, unknown> | undefined;
        server.tool(
          tool.name,
          { title: tool.title, description: tool.description, inputSchema: inputSchema as never, annotations, _meta: tool._meta },
          async (args, call) => {
            const outcome = await runModuleTool(env.LOADER, spec, tool.name, args, call.principal, {
              progress: (progress, total, message) => call.progress(progress, total, message),
              log: (level, data) => call.log(level, data),
            });
            if ('result' in outcome) return outcome.result;
            const p = call.principal;
            void recordAuditInBackground({
              tenant: p.tenantId,
              action: 'tenant_server.fault',
              result: 'error',
              server: p.server,
              resource: tool.name,
              user: p.userId,
              client: p.clientId,
              details: { reason: outcome.fault.reason, era: call.era },
            });
            // A fault stays a JSON-RPC error (not an isError result), as in the 2025 lane.
            refuse(new ProtocolError(SANDBOX_FAULT_CODE, outcome.fault.message));
          },
        );
      }
    },
  );
}
