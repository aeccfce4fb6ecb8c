import { AsyncLocalStorage } from 'node:async_hooks';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { AuditEventInput } from '../audit/audit-event';
import { RpcCode } from '../http/responses';
import { log } from '../observability/log';
import type { Era } from './author-api';
import type { RawRequest } from './choke-point';
import { ownerKey, type Principal } from './principal';
import { requestAuditEvent, sensitiveNames, type Outcome } from './request-audit';
import { denyReason, type ToolPolicySource } from './tool-policy';

/** What the guard needs from the lane serving the request. */
export interface GuardScope {
  principal: Principal;
  era: Era;
  /** The session id in the 2025 lane; absent in the stateless lane. */
  session?: string;
  correlationId?: string;
  ip?: string;
  /** Where the policy of a tool comes from (the registered tool, or an upstream's view). */
  toolPolicy(name: string): ToolPolicySource | undefined | Promise<ToolPolicySource | undefined>;
  /** Checks before policy (the 2025 lane binds the session to its owner here); may throw to deny. */
  before?: () => Promise<void>;
  /** Runs `fn` with the principal available to handlers (the 2025 lane's AsyncLocalStorage). */
  run<T>(fn: () => Promise<T> | T): Promise<T>;
  /** Records the request's one audit event (every request is audited; there is no switch to turn it off). */
  record: (event: AuditEventInput, sensitive: ReadonlySet<string>) => void;
}

const refusals = new AsyncLocalStorage<{ refusal?: unknown }>();

/** The outcome recorded if neither a result nor an error was seen (built once: an Error captures a stack, by profile 2% of a call). */
const INCOMPLETE: Outcome = Object.freeze({ error: new Error('handler did not complete') });

/**
 * Refuse the request from inside a handler as a JSON-RPC error. Both MCP SDKs turn anything a tool
 * handler throws into an `isError` tool result; a refusal (another caller's handle, a tampered
 * requestState) must stay a protocol error and be audited as a denial, so it is also noted here and
 * re-thrown by the guard around the SDK's handler.
 */
export function refuse(error: Error): never {
  const slot = refusals.getStore();
  if (slot && slot.refusal === undefined) slot.refusal = error;
  throw error;
}

/**
 * The per-request policy both lanes apply around every request handler: per-tool role policy on
 * `tools/call` (refused before the handler runs), `tools/list` filtered to what the caller may
 * call, and exactly one audit event per request, with the era recorded. The 2025 lane runs it from
 * `HostedMcpAgent` inside the session object; the 2026-07-28 lane from the per-request server.
 */
export async function guardRequest(method: string, request: RawRequest, scope: GuardScope, next: () => Promise<unknown>): Promise<unknown> {
  const { principal } = scope;
  const started = Date.now();
  let outcome: Outcome = INCOMPLETE;
  let policy: ToolPolicySource | undefined;
  try {
    await scope.before?.();
    if (method === 'tools/call') {
      const name = String(request.params?.name ?? '');
      policy = await scope.run(() => scope.toolPolicy(name));
      const reason = denyReason(principal, name, policy);
      if (reason) {
        // Logged only: the one audit event of this request (result denied) is recorded below.
        log('warn', 'denied', { reason, tenant: principal.tenantId, principal: ownerKey(principal), server: principal.server, tool: name });
        throw new McpError(RpcCode.Forbidden, reason);
      }
    }
    const slot: { refusal?: unknown } = {};
    const result = await scope.run(() => refusals.run(slot, next));
    if (slot.refusal !== undefined) throw slot.refusal;
    outcome = { value: method === 'tools/list' ? await scope.run(() => visibleTools(scope, result)) : result };
    return outcome.value;
  } catch (error) {
    outcome = { error };
    throw error;
  } finally {
    const event = requestAuditEvent(method, request, principal, outcome, {
      session: scope.session,
      latencyMs: Date.now() - started,
      correlationId: scope.correlationId,
      ip: scope.ip,
      era: scope.era,
    });
    scope.record(event, sensitiveNames(policy?._meta));
  }
}

async function visibleTools(scope: GuardScope, result: unknown): Promise<unknown> {
  const listed = result as { tools?: Array<{ name: string }> };
  if (!Array.isArray(listed?.tools)) return result;
  const policies = await Promise.all(listed.tools.map((t) => scope.toolPolicy(t.name)));
  return { ...listed, tools: listed.tools.filter((t, i) => denyReason(scope.principal, t.name, policies[i]) === null) };
}
