import { expiryDelayMs } from '../limits/session-registry';
import type { SessionScheduler } from './session-scheduler';

const EXPIRY_KEY = 'smcp:expiry-schedule';
/** The scheduler callback that ends an idle session (a method of `HostedMcpAgent`). */
export const EXPIRE_CALLBACK = 'expireIdleSession';
/** Seconds before an expiry that could not finish (audit outbox not shipped) is tried again. */
const RETRY_SECONDS = 60;

/**
 * What is stored under EXPIRY_KEY: the schedule's id and when it fires, so a restarted object
 * knows both and its first request does not rewrite a schedule that is still good. Objects
 * written before the due time was kept hold the id alone (a string): their due time is unknown,
 * so their first request rewrites the schedule once, as it always did.
 */
type StoredExpiry = ExpirySchedule | string;

/** The one expiry schedule: the SDK scheduler's id, and when it fires (0: unknown). */
interface ExpirySchedule {
  id: string;
  due: number;
}

/**
 * A session's idle expiry: every request pushes it back, through the Agents SDK scheduler. To keep
 * the hot path cheap the schedule is only rewritten once the due time would move by more than a
 * small slack (`expiryDelayMs`), and it is set `idle + slack` ahead, so a session never ends before
 * it has been idle for the configured time. The schedule's id and due time are stored together,
 * so this holds across restarts too: a session object evicted from memory and started again by its
 * next request neither cancels nor rewrites a schedule that is still within the slack. What
 * happens at expiry is the object's (`HostedMcpAgent.expireIdleSession`); this class only keeps
 * the one schedule.
 */
export class SessionExpiry {
  /** The current schedule (null: none), once read from storage in this instance. */
  private stored: ExpirySchedule | null | undefined;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly scheduler: SessionScheduler,
    private readonly idleMs: () => number,
  ) {}

  /** Push the expiry back to idle time + slack from now (cheap when it would move by less than the slack). */
  async postpone(): Promise<void> {
    const { delay, slack } = expiryDelayMs(this.idleMs());
    const due = Date.now() + delay;
    if (due - ((await this.current())?.due ?? 0) < slack) return;
    await this.replace(due);
  }

  /** Arm the expiry unless one is already scheduled (at the object's start; requests postpone it). */
  async armOnce(): Promise<void> {
    if ((await this.current()) === null) await this.postpone();
  }

  /**
   * The teardown could not finish: try again a minute from now. The retry is stored with due 0,
   * so the next request moves the expiry to idle time from then, even when that is sooner than
   * the retry, exactly as for a schedule of unknown due time.
   */
  async retrySoon(): Promise<void> {
    await this.replace(Date.now() + RETRY_SECONDS * 1000, 0);
  }

  private async current(): Promise<ExpirySchedule | null> {
    if (this.stored === undefined) {
      const value = await this.storage.get<StoredExpiry>(EXPIRY_KEY);
      this.stored = value === undefined ? null : typeof value === 'string' ? { id: value, due: 0 } : value;
    }
    return this.stored;
  }

  /** Schedule the expiry at `at` in place of the current one; `due` is what later requests compare with. */
  private async replace(at: number, due = at): Promise<void> {
    const previous = await this.current();
    if (previous) await this.scheduler.cancelSchedule(previous.id);
    // Not the SDK's `idempotent` (its warning asks for a choice when this runs at the object's
    // start): the one schedule is kept here, by cancelling the previous id before scheduling anew.
    const schedule = await this.scheduler.schedule(new Date(at), EXPIRE_CALLBACK, undefined, { idempotent: false });
    const stored: ExpirySchedule = { id: schedule.id, due };
    await this.storage.put(EXPIRY_KEY, stored);
    this.stored = stored;
  }
}
