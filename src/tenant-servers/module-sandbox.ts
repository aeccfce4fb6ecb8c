import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { tenantNamespace, type Principal } from '../hosted/principal';
import type { ModuleRef } from './module-ref';
import { compiledCode } from './module-store';
import { callInSandbox, type SandboxSpec } from './sandbox';

/** Loopback bindings of the Worker's own exports (`ctx.exports`), where the capability classes live. */
export type Exports = Record<string, (options: { props: unknown }) => Fetcher>;

/** The loader id of one module version as one tenant incarnation runs it (code, tenant and egress in it). */
export function moduleKey(principal: Principal, ref: ModuleRef): string {
  return `${tenantNamespace(principal)}/${principal.server}/v${ref.version}/${ref.sha256.slice(0, 16)}/${ref.egress.join(',')}`;
}

/**
 * The sandbox of one deployed version for the caller's tenant, for both lanes (the session object
 * and the stateless lane): the metered code from D1 (read only when the loader builds the isolate),
 * capability stubs whose props name the caller's tenant storage namespace, and no network unless
 * the tenant granted hostnames, then only through the egress gate.
 */
export function moduleSandboxSpec(env: Env, exports: Exports, principal: Principal, ref: ModuleRef): SandboxSpec {
  const tenantId = principal.tenantId;
  const namespace = tenantNamespace(principal);
  const server = principal.server;
  return {
    id: `module:${moduleKey(principal, ref)}`,
    compiled: async () => {
      const code = await compiledCode(env.DB, tenantId, server, ref.version);
      if (code === null) throw new Error('module version not found');
      return code;
    },
    env: { KV: exports.TenantKvCapability!({ props: { namespace } }), FILES: exports.TenantFilesCapability!({ props: { namespace } }) },
    globalOutbound: ref.egress.length > 0 ? exports.EgressGate!({ props: { tenantId, server, allow: ref.egress } }) : null,
  };
}

/** What the module sees as `ctx.caller`: who is calling, never a credential. */
export function callerOf(principal: Principal) {
  return { tenant: principal.tenantId, role: principal.role, user: principal.userId, kind: principal.kind, server: principal.server };
}

const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How a lane delivers what the module reports: progress and log notifications. */
export interface HookSink {
  progress(progress: number, total?: number, message?: string): Promise<void>;
  log(level: LogLevel, data: string): Promise<void>;
}

/**
 * `ctx.progress` and `ctx.log` for the sandbox, as one RPC callback (one stub per call, not two).
 * The sandbox is untrusted, so what it sends is checked and bounded here: finite numbers, messages of
 * at most 1,000 characters, at most 100 log lines of 8 KiB per call, known levels only.
 */
export function sandboxHooks(sink: HookSink) {
  let logs = 0;
  const hooks = {
    progress: async (progress: unknown, total?: unknown, message?: unknown) => {
      if (typeof progress !== 'number' || !Number.isFinite(progress)) return;
      await sink
        .progress(
          progress,
          typeof total === 'number' && Number.isFinite(total) ? total : undefined,
          typeof message === 'string' ? message.slice(0, 1000) : undefined,
        )
        .catch(() => undefined);
    },
    log: async (level: unknown, data: unknown) => {
      if (++logs > 100) return;
      const lvl = LOG_LEVELS.includes(level as LogLevel) ? (level as LogLevel) : 'info';
      let text: string;
      try {
        text = typeof data === 'string' ? data : (JSON.stringify(data ?? null) ?? 'null');
      } catch {
        text = '[unserializable]';
      }
      await sink.log(lvl, text.slice(0, 8192)).catch(() => undefined);
    },
  };
  return (kind: unknown, a?: unknown, b?: unknown, c?: unknown): Promise<void> =>
    kind === 'progress' ? hooks.progress(a, b, c) : kind === 'log' ? hooks.log(a, b) : Promise.resolve();
}

/** A tool call's outcome as both lanes answer it: a tool result, or a fault to refuse and audit. */
export type ModuleToolOutcome = { result: CallToolResult } | { fault: { reason: string; message: string } };

/** Run one (already authorised and validated) tool in the sandbox and check what comes back. */
export async function runModuleTool(
  loader: WorkerLoader,
  spec: SandboxSpec,
  name: string,
  args: unknown,
  principal: Principal,
  sink: HookSink,
): Promise<ModuleToolOutcome> {
  const outcome = await callInSandbox(loader, spec, name, args, callerOf(principal), sandboxHooks(sink));
  if (outcome.kind === 'tool_error') return { result: { content: [{ type: 'text', text: outcome.message }], isError: true } };
  if (outcome.kind === 'result') {
    let value: unknown;
    try {
      value = JSON.parse(outcome.json);
    } catch {
      value = undefined;
    }
    const parsed = CallToolResultSchema.safeParse(value);
    if (parsed.success) return { result: parsed.data };
    return { fault: { reason: 'invalid_result', message: `Tool "${name}" returned something that is not an MCP tool result` } };
  }
  return { fault: { reason: outcome.reason, message: outcome.message } };
}
