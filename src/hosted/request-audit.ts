import type { AuditEventInput, AuditResult } from '../audit/audit-event';
import { RpcCode } from '../http/responses';
import type { Era } from './author-api';
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
    // A refused requestState (tampered, replayed, another caller's) is a denial too.
    // Structural, so errors of both MCP SDKs (v1 McpError, v2 ProtocolError) count.
    const { code, data } = (e ?? {}) as { code?: unknown; data?: { reason?: unknown } };
    const denied = typeof code === 'number' && (DENIAL_CODES.has(code) || data?.reason === 'invalid_request_state');
    return { result: denied ? 'denied' : 'error', error: message.slice(0, 300) };
  }
  const value = outcome.value as { isError?: unknown } | undefined;
  return { result: value?.isError === true ? 'error' : 'ok' };
}

/** `input_required` when a stateless call ended asking the client for input (multi-round-trip). */
function resultTypeOf(outcome: Outcome): string | undefined {
  const value = 'value' in outcome ? (outcome.value as { resultType?: unknown } | undefined) : undefined;
  return typeof value?.resultType === 'string' && value.resultType !== 'complete' ? value.resultType : undefined;
}

/**
 * The audit event for one MCP request, in either lane: action is the JSON-RPC method, resource the
 * tool or prompt name or resource URI, details the (redacted later) arguments and the era
 * (`2025` in a session, `2026-07-28` stateless); session is absent in the stateless lane.
 */
export function requestAuditEvent(
  method: string,
  request: RawRequest,
  principal: Principal,
  outcome: Outcome,
  extra: { session?: string; latencyMs: number; correlationId?: string; ip?: string; era?: Era },
): AuditEventInput {
  const params = request.params ?? {};
  const resource = typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined;
  const { result, error } = resultOf(outcome);
  const details: Record<string, unknown> = {};
  if (method === 'tools/call' || method === 'prompts/get') details.arguments = params.arguments ?? {};
  if (error) details.error = error;
  if (extra.era) details.era = extra.era;
  const resultType = resultTypeOf(outcome);
  if (resultType) details.resultType = resultType;
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
