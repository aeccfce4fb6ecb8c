import { DurableObject } from 'cloudflare:workers';
import type { AuditEvent } from './audit-event';
import { AuditOutbox, retryDelayMs } from './audit-outbox';

/** How soon after an append the batch ships: long enough to gather a burst, short enough to see events quickly. */
const SHIP_DELAY_MS = 500;
const ATTEMPT_KEY = 'smcp:ship-attempt';

/**
 * The outbox for events raised in Worker code (gate denials, sign-ins, consent, tokens, admin
 * changes), one object per tenant (`_platform` for unidentified callers). An append resolves only
 * once the event is in this object's SQLite; its alarm ships batches to the tenant's audit store
 * and retries with backoff while it fails, so nothing is lost when the central store is down for a while.
 */
export class AuditOutboxObject extends DurableObject<Env> {
  private readonly outbox: AuditOutbox;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.outbox = new AuditOutbox(ctx.storage.sql);
  }

  async append(events: AuditEvent[]): Promise<void> {
    for (const event of events) this.outbox.append(event);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + SHIP_DELAY_MS);
  }

  /** Events not yet acknowledged by the store (tests and /health). */
  async pending(): Promise<number> {
    return this.outbox.pending();
  }

  override async alarm(): Promise<void> {
    try {
      await this.outbox.ship(this.env);
      await this.ctx.storage.delete(ATTEMPT_KEY);
      if (this.outbox.pending() > 0) await this.ctx.storage.setAlarm(Date.now() + SHIP_DELAY_MS);
    } catch (error) {
      const attempt = ((await this.ctx.storage.get<number>(ATTEMPT_KEY)) ?? 0) + 1;
      await this.ctx.storage.put(ATTEMPT_KEY, attempt);
      await this.ctx.storage.setAlarm(Date.now() + retryDelayMs(attempt));
      console.warn(JSON.stringify({ level: 'warn', event: 'audit.ship_failed', attempt, pending: this.outbox.pending(), error: String(error).slice(0, 200) }));
    }
  }
}
