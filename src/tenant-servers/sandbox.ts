import { z } from 'zod';
import { TimeoutError, withTimeout } from '../http/fetch-with-timeout';
import { METER_MODULE, TENANT_MODULE } from './module-meter';
import { METER_SOURCE, RUNTIME_SOURCE } from './sandbox-runtime';

/**
 * Loading a tenant module into an isolate of its own (Dynamic Worker Loader) and talking to it.
 * One place decides what the sandbox gets: the platform's runtime modules, the metered tenant code,
 * as `env` only the capability stubs the caller passes (never a platform binding or secret), no
 * network unless an egress gate is passed, and per-call CPU and subrequest limits.
 */

/** Per-call limits of a tenant tool, stated once for the code, the docs and the tests. */
export const SANDBOX_LIMITS = {
  /** Metered operations (loop iterations, function calls, elements allocated by builtins) per call. */
  operations: 10_000_000,
  /** CPU time per call, enforced by Cloudflare's runtime (local workerd does not enforce it). */
  cpuMs: 1_000,
  /** Subrequests per call (egress and capability calls), enforced by Cloudflare's runtime. */
  subRequests: 50,
  /** Wall-clock deadline per call; the platform answers and abandons the call when it passes. */
  deadlineMs: 10_000,
  /** Largest tool result, in characters of JSON. */
  resultChars: 1024 * 1024,
  /** Wall-clock deadline for loading a module and reading its tools. */
  loadDeadlineMs: 10_000,
} as const;

const COMPATIBILITY_DATE = '2026-10-20';

/** JSON-RPC code for a tool stopped by the sandbox's limits (server-defined range), in both lanes. */
export const SANDBOX_FAULT_CODE = -32010;

/** What one sandbox is built from. `id` must change whenever code, tenant or egress changes. */
export interface SandboxSpec {
  id: string;
  compiled: () => Promise<string>;
  env: Record<string, unknown>;
  globalOutbound: Fetcher | null;
}

/** A tool as the module defines it, re-checked in platform code (never trusted from the sandbox). */
export const ToolDefinitionSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  title: z.string().max(200).optional(),
  description: z.string().max(10_000),
  inputSchema: z.object({ type: z.literal('object') }).passthrough(),
  annotations: z.record(z.string(), z.unknown()).optional(),
  _meta: z.record(z.string(), z.unknown()).optional(),
});
export type ToolDefinition = z.infer<typeof ToolDefinitionSchema>;
const DescribedSchema = z.union([z.object({ tools: z.array(ToolDefinitionSchema).min(1).max(100) }), z.object({ problem: z.string() })]);

/** What one call came back with. */
export type CallOutcome =
  | { kind: 'result'; json: string }
  | { kind: 'tool_error'; message: string }
  | { kind: 'fault'; reason: 'budget' | 'deadline' | 'result_too_large' | 'crashed'; message: string };

const CallAnswerSchema = z.union([
  z.object({ json: z.string(), used: z.number().optional() }),
  z.object({ error: z.string() }),
  z.object({ fault: z.enum(['budget', 'result_too_large']), used: z.number().optional(), size: z.number().optional() }),
]);

/** The sandbox's RPC surface (sandbox-runtime.ts). */
interface SandboxEntrypoint {
  describe(): Promise<unknown>;
  call(name: string, args: unknown, caller: unknown, hooks: unknown, budget: number, maxResultChars: number): Promise<unknown>;
}

function entrypoint(loader: WorkerLoader, spec: SandboxSpec): SandboxEntrypoint {
  const worker = loader.get(spec.id, async () => ({
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: ['nodejs_als'],
    mainModule: 'smcp-runtime.js',
    modules: { 'smcp-runtime.js': RUNTIME_SOURCE, [METER_MODULE]: METER_SOURCE, [TENANT_MODULE]: await spec.compiled() },
    env: spec.env,
    globalOutbound: spec.globalOutbound,
  }));
  return worker.getEntrypoint(undefined, { limits: { cpuMs: SANDBOX_LIMITS.cpuMs, subRequests: SANDBOX_LIMITS.subRequests } }) as unknown as SandboxEntrypoint;
}

function dispose(value: unknown): void {
  const d = (value as { [Symbol.dispose]?: () => void } | null)?.[Symbol.dispose];
  if (typeof d === 'function') d.call(value);
}

/** The module's tools, or the problem with its export (a string the deployer sees). */
export async function describeModule(loader: WorkerLoader, spec: SandboxSpec): Promise<{ tools: ToolDefinition[] } | { problem: string }> {
  const sandbox = entrypoint(loader, spec);
  try {
    const raw = await withTimeout('loading the module', SANDBOX_LIMITS.loadDeadlineMs, () => sandbox.describe());
    const parsed = DescribedSchema.safeParse(raw);
    if (!parsed.success) return { problem: `the module's tools are malformed: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}` };
    return parsed.data;
  } catch (error) {
    return { problem: `the module failed to load: ${errorText(error)}` };
  } finally {
    dispose(sandbox);
  }
}

/** Run one tool under the per-call limits; never throws for anything the tenant's code does. */
export async function callInSandbox(
  loader: WorkerLoader,
  spec: SandboxSpec,
  name: string,
  args: unknown,
  caller: unknown,
  hooks: unknown,
): Promise<CallOutcome> {
  const sandbox = entrypoint(loader, spec);
  try {
    const raw = await withTimeout(`tool "${name}"`, SANDBOX_LIMITS.deadlineMs, () =>
      sandbox.call(name, args, caller, hooks, SANDBOX_LIMITS.operations, SANDBOX_LIMITS.resultChars),
    );
    const answer = CallAnswerSchema.safeParse(raw);
    if (!answer.success) return { kind: 'fault', reason: 'crashed', message: 'the sandbox answered malformed data' };
    const a = answer.data;
    if ('json' in a) {
      if (a.json.length > SANDBOX_LIMITS.resultChars) return tooLarge(a.json.length);
      return { kind: 'result', json: a.json };
    }
    if ('error' in a) return { kind: 'tool_error', message: a.error };
    if (a.fault === 'result_too_large') return tooLarge(a.size ?? 0);
    return { kind: 'fault', reason: 'budget', message: `Tool "${name}" exceeded its budget of ${SANDBOX_LIMITS.operations} operations and was stopped` };
  } catch (error) {
    if (error instanceof TimeoutError)
      return { kind: 'fault', reason: 'deadline', message: `Tool "${name}" did not finish within ${SANDBOX_LIMITS.deadlineMs} ms and was abandoned` };
    // CPU limit exceeded, memory limit, isolate crash: the runtime throws on the stub.
    return { kind: 'fault', reason: 'crashed', message: `Tool "${name}" was stopped by the sandbox: ${errorText(error)}` };
  } finally {
    dispose(sandbox);
  }
}

function tooLarge(size: number): CallOutcome {
  return { kind: 'fault', reason: 'result_too_large', message: `Tool result is ${size} characters; the limit is ${SANDBOX_LIMITS.resultChars}` };
}

function errorText(error: unknown): string {
  return String(error instanceof Error ? error.message : error).slice(0, 300);
}
