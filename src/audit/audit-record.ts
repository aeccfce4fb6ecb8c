import type { AuditEvent, AuditEventInput } from './audit-event';
import { eventId } from './event-id';
import { redact } from './redact';

/**
 * Turn what a producer knows into the stored event: a fresh id (the idempotency key for delivery,
 * so a batch shipped twice is stored once; time-ordered, event-id.ts), the time, and redacted details.
 */
export function toAuditEvent(input: AuditEventInput, sensitive?: ReadonlySet<string>): AuditEvent {
  const time = Date.now();
  return {
    id: eventId(time),
    time,
    tenant: input.tenant,
    action: input.action.slice(0, 100),
    result: input.result,
    user: input.user ?? null,
    client: input.client ?? null,
    session: input.session ?? null,
    server: input.server ?? null,
    resource: input.resource?.slice(0, 512) ?? null,
    latencyMs: input.latencyMs ?? null,
    correlationId: input.correlationId ?? null,
    ip: input.ip ?? null,
    details: input.details ? (redact(input.details, sensitive) as Record<string, unknown>) : null,
  };
}
