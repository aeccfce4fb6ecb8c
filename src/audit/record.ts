import { AppendBatcher, type AppendSink } from './append-batcher';
import type { AuditEvent, AuditEventInput } from './audit-event';
import { toAuditEvent } from './audit-record';
import { deliverToStores } from './audit-store';
import { log, type LogFields } from '../observability/log';
import { requestContext } from '../observability/request-context';

/**
 * Recording audit events: the one home of the explicit calls. Logging (src/observability/log.ts)
 * is a separate leaf that never records anything; a refusal that must be both logged and audited
 * says so by calling `recordDenial`.
 *
 * Each runtime has one way to record:
 * - Worker code (gate, auth, OAuth, admin API, dashboard): `recordAudit(env, event)`, durable in the
 *   tenant's Worker-side outbox when it resolves, or `recordDenial(reason, fields)` for a refusal;
 * - session objects (`HostedMcpAgent` and its subclasses, including the gateway's `GatewayServer`):
 *   `this.recordAudit(event)`, delivered to the tenant's store through the isolate's batcher
 *   (src/hosted/session-audit.ts; the session's own outbox keeps what a failed delivery carried); the guard
 *   already records one event per request, so a refusal inside a session is that request's event;
 * - other Durable Objects (the gateway's `UpstreamState`, ...): `recordAudit(this.env, event)`, an RPC
 *   to the tenant's Worker-side outbox (in `ctx.waitUntil` when it must not delay the caller).
 */

/** Outbox shard for events without an identified tenant (bad tokens, unknown accounts). */
export const PLATFORM_SHARD = '_platform';

/** The outbox object that holds `tenant`'s Worker-side events. */
export function auditOutbox(env: Env, tenant: string | null) {
  return env.AUDIT_OUTBOX.get(env.AUDIT_OUTBOX.idFromName(tenant ?? PLATFORM_SHARD));
}

/**
 * Record one audit event from Worker code or a Durable Object without its own outbox. Resolves
 * once the event is durable in the tenant's outbox; the tenant's audit store receives it shortly
 * after. The request's correlation id and client IP are filled in when the caller does not give them.
 */
export async function recordAudit(env: Env, event: AuditEventInput): Promise<void> {
  await auditOutbox(env, event.tenant).append([withContext(event)]);
}

const batcher = new AppendBatcher();

/**
 * `recordAudit` for hot paths with one event per request (the stateless lane's request events):
 * the events of a tenant's concurrent requests share one delivery to its audit store about every
 * 250 ms (`deliverAuditBatched`, MIN_APPEND_INTERVAL_MS), and the response never waits. Keep the promise in
 * `ctx.waitUntil`: other requests' events may ride on it. Never rejects: a delivery that fails is
 * appended to the tenant's outbox object instead, which retries it, and logged as lost
 * (`audit.append_failed`) only when that fails too.
 */
export function recordAuditBatched(env: Env, event: AuditEventInput): Promise<void> {
  return deliverAuditBatched(env, withContext(event), (events) => keepInTenantOutbox(env, events));
}

/**
 * A built event (`toAuditEvent`) to its tenant's audit store through this isolate's batcher
 * (append-batcher.ts): the one path of every MCP request's event, in the stateless lane and in
 * session objects (src/hosted/session-audit.ts). `failed` keeps a failed delivery's events (every
 * caller's, once, from whoever sent it) somewhere durable.
 */
export function deliverAuditBatched(env: Env, event: AuditEvent, failed: AppendSink['failed']): Promise<void> {
  return batcher.append(shardOf(event.tenant), event, sink(env, failed));
}

/** Resolves once the batches now holding `tenant`'s events are delivered or kept (a session calls it before its storage goes). */
export function drainAuditBatches(env: Env, tenant: string | null, failed: AppendSink['failed']): Promise<void> {
  return batcher.drain(shardOf(tenant), sink(env, failed));
}

const shardOf = (tenant: string | null) => tenant ?? PLATFORM_SHARD;

function sink(env: Env, failed: AppendSink['failed']): AppendSink {
  return { send: (events) => deliverToStores(env, events), failed };
}

/** A failed delivery from Worker code: into the tenant's outbox object (durable, retried); logged as lost only if that fails too. */
async function keepInTenantOutbox(env: Env, events: AuditEvent[]): Promise<void> {
  try {
    await auditOutbox(env, events[0]?.tenant ?? null).append(events);
  } catch (error) {
    log('error', 'audit.append_failed', {
      events: events.length,
      correlationIds: events
        .slice(0, 20)
        .map((e) => e.correlationId)
        .join(','),
      error: String(error).slice(0, 200),
    });
  }
}

/** The event as stored, with the request's correlation id and client IP when the caller did not give them. */
function withContext(event: AuditEventInput) {
  const context = requestContext();
  return toAuditEvent({ ...event, correlationId: event.correlationId ?? context?.correlationId, ip: event.ip ?? context?.ip ?? undefined });
}

/**
 * Record an event without delaying the response (hot paths): the append runs in the request's
 * `waitUntil`, and a failure is logged. Outside a Worker request this records nothing: Durable
 * Objects use their own way (see above).
 */
export function recordAuditInBackground(event: AuditEventInput): Promise<void> {
  const context = requestContext();
  if (!context) return Promise.resolve();
  const recorded = recordAudit(context.env, event).catch((error) => log('error', 'audit.append_failed', { error: String(error).slice(0, 200) }));
  context.ctx.waitUntil(recorded);
  return recorded;
}

/** What the caller adds to a denial's audit event beyond the log fields. */
export interface DenialAudit {
  /** Merged into the event's details (a `reason` here replaces the logged reason in the event). */
  details?: Record<string, unknown>;
}

/**
 * A refusal (authentication, authorization, ownership, Host/Origin, CSRF): one `denied` log line
 * and one `denied` audit event, recorded in the background. `action` names what was refused
 * (default `access`), `resource` what it was aimed at (default the tool or path), `principal` who
 * tried. Await the result where the refusal must not be answered before it is recorded. In Worker
 * code only; inside a session object the request's own event records the refusal.
 */
export function recordDenial(reason: string, fields: LogFields & { action?: string; resource?: string } = {}, audit: DenialAudit = {}): Promise<void> {
  const { action, resource, ...logged } = fields;
  log('warn', 'denied', { reason, ...logged });
  return recordAuditInBackground({
    tenant: fields.tenant ?? null,
    action: action ?? 'access',
    result: 'denied',
    server: fields.server,
    resource: resource ?? fields.tool?.toString() ?? fields.path,
    user: fields.principal,
    details: { reason, ...audit.details },
  });
}
