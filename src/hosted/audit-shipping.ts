import type { AuditEvent } from '../audit/audit-event';
import { AuditOutbox, retryDelayMs } from '../audit/audit-outbox';
import { log } from '../observability/log';
import type { SessionScheduler } from './session-scheduler';

/** The scheduler callback that ships the outbox (a method of `HostedMcpAgent`). */
export const SHIP_CALLBACK = 'shipAuditOutbox';
/**
 * Seconds between an audit event and its shipment to the audit store: batches bursts without delaying the call.
 * 5 s rather than 1 s cut the D1 batches a busy session sends fivefold (see docs/performance.md).
 */
const SHIP_DELAY_SECONDS = 5;
/**
 * A session that shipped within the last BUSY_WINDOW_MS is busy: its next shipment waits this long
 * instead, so each carries more events (a delivery's cost is mostly per batch: the outbox read and
 * delete, the call, the store's transaction and rollup updates). A light session's events still
 * reach the store within SHIP_DELAY_SECONDS; a busy session's within this.
 */
const BUSY_SHIP_DELAY_SECONDS = 15;
const BUSY_WINDOW_MS = 60_000;

/**
 * A session object's own audit outbox and its shipping schedule. Events normally go to the
 * tenant's store through the isolate's batcher (session-audit.ts); this outbox keeps those of a
 * batch whose delivery failed, and rows left by earlier versions, which wrote every event here. They
 * are appended to the object's SQLite (src/audit/audit-outbox.ts), and one scheduled shipment at a
 * time sends them to the tenant's audit store, retried with backoff while the store fails.
 */
export class AuditShipping {
  private outboxInstance?: AuditOutbox;
  private armed = false;
  /** When this instance last shipped successfully (0 = never). */
  private shippedAt = 0;

  constructor(
    private readonly sql: SqlStorage,
    private readonly scheduler: SessionScheduler,
  ) {}

  /** Append an event (synchronous: it commits with whatever else this turn writes) and arm a shipment. */
  append(event: AuditEvent): void {
    this.outbox().append(event);
    this.arm(0, this.delaySeconds());
  }

  /** How long the next shipment waits: longer for a session that shipped a moment ago. */
  private delaySeconds(): number {
    return Date.now() - this.shippedAt < BUSY_WINDOW_MS ? BUSY_SHIP_DELAY_SECONDS : SHIP_DELAY_SECONDS;
  }

  /** Events left by a previous incarnation (eviction, crash) ship as soon as the object is back. */
  resumeAtStartup(): void {
    if (this.outbox().pending() > 0) this.arm(0, 0, true);
  }

  /** Ship everything now; throws (events kept) when the store fails. */
  async shipNow(env: Env): Promise<void> {
    await this.outbox().ship(env);
  }

  /** The scheduled shipment: ship, or re-arm with backoff while the store fails. */
  async shipScheduled(env: Env, attempt = 0): Promise<void> {
    this.armed = false;
    try {
      await this.outbox().ship(env);
      this.shippedAt = Date.now();
      if (this.outbox().pending() > 0) this.arm(0, this.delaySeconds());
    } catch (error) {
      const next = attempt + 1;
      log('warn', 'audit.ship_failed', { attempt: next, pending: this.outbox().pending(), error: String(error).slice(0, 200) });
      this.arm(next, retryDelayMs(next) / 1000);
    }
  }

  private outbox(): AuditOutbox {
    return (this.outboxInstance ??= new AuditOutbox(this.sql));
  }

  /** At startup the schedule is idempotent, so restarts do not pile up rows; elsewhere one shipment is armed at a time. */
  private arm(attempt: number, delaySeconds = SHIP_DELAY_SECONDS, atStartup = false): void {
    if (this.armed) return;
    this.armed = true;
    this.scheduler.schedule(delaySeconds, SHIP_CALLBACK, { attempt, atStartup }, { idempotent: atStartup }).catch((error: unknown) => {
      this.armed = false;
      log('error', 'audit.schedule_failed', { error: String(error).slice(0, 200) });
    });
  }
}
