import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { AuditEventInput, AuditResult } from '../audit/audit-event';
import { RpcCode } from '../http/responses';
import type { RawRequest } from './choke-point';
import type { Principal } from './principal';

/** Tool `_meta` key listing argument names a server author marks sensitive (redacted from audit). */
export const SENSITIVE_META = 'smcp/sensitive';

/** Errors that mean "refused", not "failed": they are audited as `denied`. */
const DENIAL_CODES: ReadonlySet<number> = new Set([RpcCode.Forbidden, RpcCode.SessionNotFound]);

/** How one handled request ended, as the choke point saw it. */
export type Outcome = { value: unknown } | { error: unknown };

/** The names a tool's `_meta["smcp/sensitive"]` marks, for redaction. */
export function sensitiveNames(meta: Record<string, unknown> | undefined): ReadonlySet<string> {
  const listed = meta?.[SENSITIVE_META];
  return new Set(Array.isArray(listed) ? listed.filter((n): n is string => typeof n === 'string') : []);
}

function resultOf(outcome: Outcome): { result: AuditResult; error?: string } {
  if ('error' in outcome) {
    const e = outcome.error;
    const message = e instanceof Error ? e.message : String(e);
    const denied = e instanceof McpError && DENIAL_CODES.has(e.code);
    return { result: denied ? 'denied' : 'error', error: message.slice(0, 300) };
  }
  const value = outcome.value as { isError?: unknown } | undefined;
  return { result: value?.isError === true ? 'error' : 'ok' };
}

/**
 * The audit event for one MCP request handled inside a session: action is the JSON-RPC method,
 * resource the tool or prompt name or resource URI, details the (redacted later) arguments.
 */
export function requestAuditEvent(method: string, request: RawRequest, principal: Principal, outcome: Outcome, extra: { session: string; latencyMs: number; correlationId?: string; ip?: string }): AuditEventInput {
  const params = request.params ?? {};
  const resource = typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined;
  const { result, error } = resultOf(outcome);
  const details: Record<string, unknown> = {};
  if (method === 'tools/call' || method === 'prompts/get') details.arguments = params.arguments ?? {};
  if (error) details.error = error;
  return {
    tenant: principal.tenantId,
    user: principal.userId,
    client: principal.clientId,
    server: principal.server,
    session: extra.session,
    action: method,
    resource,
    result,
    latencyMs: extra.latencyMs,
    correlationId: extra.correlationId,
    ip: extra.ip,
    details: Object.keys(details).length ? details : undefined,
  };
}
