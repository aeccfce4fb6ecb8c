import type { AuditEvent } from '../audit/audit-event';
import { AuditOutbox, retryDelayMs } from '../audit/audit-outbox';
import { appendBatched } from '../audit/record';
import { log } from '../observability/log';
import type { SessionScheduler } from './session-scheduler';

/** The scheduler callback that ships the outbox (a method of `HostedMcpAgent`). */
export const SHIP_CALLBACK = 'shipAuditOutbox';
/**
 * Seconds between an audit event and its shipment to the audit store: batches bursts without delaying the call.
 * 5 s rather than 1 s cut the D1 batches a busy session sends fivefold (see docs/performance.md).
 */
const SHIP_DELAY_SECONDS = 5;

/** What the session object lends its shipping: the Worker's bindings and its `waitUntil`. */
export interface HandOn {
  env: Env;
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * A session object's audit outbox and its shipping: events are appended to the object's own
 * SQLite in the same turn as the call (src/audit/audit-outbox.ts), so each is durable before the
 * answer, as it always was. Then, off the response path (`waitUntil`), the event is handed on to
 * its tenant's Worker-side outbox in this isolate's shared batch (`appendBatched`: one call per
 * round trip for every session object of the isolate, src/audit/append-batcher.ts), and leaves this
 * outbox once it is durable there; that outbox ships to the audit store in batches of up to 500.
 * Why: a store delivery costs about ten milliseconds per batch whatever its size (docs/performance.md),
 * and each session shipping its own few events every five seconds paid it per session. If the hand-on
 * fails, the event stays here and one scheduled shipment at a time sends it to the store directly,
 * retried with backoff while the store fails; a row left by a crash between the two ships at the
 * next start or before the session's storage is deleted. A row handed on and shipped from here too
 * (a crash between the hand-on and its removal) is stored once: the store keeps one copy per id.
 */
export class AuditShipping {
  private outboxInstance?: AuditOutbox;
  private armed = false;

  constructor(
    private readonly sql: SqlStorage,
    private readonly scheduler: SessionScheduler,
    private readonly handOn: HandOn,
  ) {}

  /** Append an event (synchronous: it commits with whatever else this turn writes), then hand it on in the background. */
  append(event: AuditEvent): void {
    this.outbox().append(event);
    this.handOn.waitUntil(this.handOver(event));
  }

  private async handOver(event: AuditEvent): Promise<void> {
    try {
      await appendBatched(this.handOn.env, event);
      this.outbox().remove(event.id);
    } catch (error) {
      log('warn', 'audit.hand_on_failed', { pending: this.outbox().pending(), error: String(error).slice(0, 200) });
      this.arm(0);
    }
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
      if (this.outbox().pending() > 0) this.arm(0);
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
