import type { AuditEventInput } from './audit-event';
import { toAuditEvent } from './audit-record';
import { requestContext } from '../observability/request-context';

/** Outbox shard for events without an identified tenant (bad tokens, unknown accounts). */
export const PLATFORM_SHARD = '_platform';

/** The outbox object that holds `tenant`'s Worker-side events. */
export function auditOutbox(env: Env, tenant: string | null) {
  return env.AUDIT_OUTBOX.get(env.AUDIT_OUTBOX.idFromName(tenant ?? PLATFORM_SHARD));
}

/**
 * Record one audit event from Worker code (gate, auth, admin API). Resolves once the event is
 * durable in the tenant's outbox; D1 receives it shortly after. The request's correlation id and
 * client IP are filled in when the caller does not give them.
 */
export async function recordAudit(env: Env, event: AuditEventInput): Promise<void> {
  const context = requestContext();
  const complete: AuditEventInput = {
    ...event,
    correlationId: event.correlationId ?? context?.correlationId,
    ip: event.ip ?? context?.ip ?? undefined,
  };
  await auditOutbox(env, event.tenant).append([toAuditEvent(complete)]);
}

/**
 * Record an event without delaying the response (denials on hot paths). Outside a Worker request
 * (inside a Durable Object) this does nothing: objects record through their own outbox.
 */
export function auditInBackground(event: AuditEventInput): void {
  const context = requestContext();
  if (!context) return;
  context.ctx.waitUntil(
    recordAudit(context.env, event).catch((error) => console.error(JSON.stringify({ level: 'error', event: 'audit.append_failed', correlationId: context.correlationId, error: String(error).slice(0, 200) }))),
  );
}
