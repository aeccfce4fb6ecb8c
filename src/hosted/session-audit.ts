import type { AuditEvent } from '../audit/audit-event';
import { deliverAuditBatched, drainAuditBatches } from '../audit/record';
import { log } from '../observability/log';
import type { AuditShipping } from './audit-shipping';

/**
 * How a session object records its audit events, off the request's path: each event goes to the
 * tenant's audit store through the isolate's batcher (src/audit/append-batcher.ts, the stateless
 * lane's path too), so the response never waits and the events of every session and Worker request
 * of the isolate share one delivery per tenant about every 250 ms. A write into the session's own
 * SQLite per request was the sessionful lane's largest single cost: its commit, one per request
 * (docs/performance.md).
 *
 * A batch whose delivery fails is written to the outbox of the session that sent it
 * (`AuditShipping`, with retries to the store): whatever sessions its events came from, nothing a
 * failed delivery carried is lost. The window in which an event exists only in memory (until its
 * delivery settles: the batching interval plus one call) is described in docs/audit.md.
 */
export class SessionAudit {
  /** The tenants (null: the platform's shard) this session recorded events for: what `drain` waits on. */
  private readonly tenants = new Set<string | null>();

  constructor(
    private readonly env: Env,
    private readonly ctx: Pick<DurableObjectState, 'waitUntil'>,
    private readonly outbox: AuditShipping,
  ) {}

  /** Record `event` (built by `toAuditEvent`); returns at once. */
  record(event: AuditEvent): void {
    this.tenants.add(event.tenant);
    this.ctx.waitUntil(deliverAuditBatched(this.env, event, this.keep));
  }

  /** Before the session's storage goes: the batches holding its events are delivered (or kept in its outbox). */
  async drain(): Promise<void> {
    for (const tenant of this.tenants) await drainAuditBatches(this.env, tenant, this.keep);
  }

  /** A failed delivery's events (this session's and others'): into this session's own outbox, shipped with retries. */
  private readonly keep = (events: AuditEvent[], error: unknown): void => {
    log('warn', 'audit.append_failed', { events: events.length, kept: 'session outbox', error: String(error).slice(0, 200) });
    try {
      for (const event of events) this.outbox.append(event);
    } catch (failure) {
      log('error', 'audit.keep_failed', { events: events.length, error: String(failure).slice(0, 200) });
    }
  };
}
