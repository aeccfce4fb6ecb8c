import type { AuditEventInput } from './audit-event';
import { log } from '../observability/log';

/**
 * Record one audit event from Worker code (gate, auth, admin API). Resolves once the event is
 * durable. Interim implementation: a structured log line; the outbox-backed store replaces it.
 */
export async function recordAudit(_env: Env, event: AuditEventInput): Promise<void> {
  log(event.result === 'ok' ? 'info' : 'warn', 'audit', {
    tenant: event.tenant ?? undefined,
    action: event.action,
    result: event.result,
    server: event.server,
    resource: event.resource,
    correlationId: event.correlationId,
  });
}
