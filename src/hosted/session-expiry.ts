import { expiryDelayMs } from '../limits/session-registry';
import type { SessionScheduler } from './session-scheduler';

const EXPIRY_KEY = 'smcp:expiry-schedule';
/** The scheduler callback that ends an idle session (a method of `HostedMcpAgent`). */
export const EXPIRE_CALLBACK = 'expireIdleSession';
/** Seconds before an expiry that could not finish (audit outbox not shipped) is tried again. */
const RETRY_SECONDS = 60;

/**
 * A session's idle expiry: every request pushes it back, through the Agents SDK scheduler. To keep
 * the hot path cheap the schedule is only rewritten once the due time would move by more than a
 * small slack (`expiryDelayMs`), and it is set `idle + slack` ahead, so a session never ends before
 * it has been idle for the configured time. What happens at expiry is the object's
 * (`HostedMcpAgent.expireIdleSession`); this class only keeps the one schedule.
 */
export class SessionExpiry {
  /** When the current schedule fires (0 = unknown in this instance). */
  private due = 0;
  private id: string | null | undefined;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly scheduler: SessionScheduler,
    private readonly idleMs: () => number,
  ) {}

  /** Push the expiry back to idle time + slack from now (cheap when it would move by less than the slack). */
  async postpone(): Promise<void> {
    const { delay, slack } = expiryDelayMs(this.idleMs());
    const due = Date.now() + delay;
    if (due - this.due < slack) return;
    await this.replace(new Date(due));
    this.due = due;
  }

  /** Arm the expiry unless one is already scheduled (at the object's start; requests postpone it). */
  async armOnce(): Promise<void> {
    if ((await this.current()) === null) await this.postpone();
  }

  /** The teardown could not finish: try again a minute from now. */
  async retrySoon(): Promise<void> {
    await this.replace(RETRY_SECONDS);
  }

  private async current(): Promise<string | null> {
    if (this.id === undefined) this.id = (await this.storage.get<string>(EXPIRY_KEY)) ?? null;
    return this.id;
  }

  private async replace(when: Date | number): Promise<void> {
    const previous = await this.current();
    if (previous) await this.scheduler.cancelSchedule(previous);
    const schedule = await this.scheduler.schedule(when, EXPIRE_CALLBACK);
    await this.storage.put(EXPIRY_KEY, schedule.id);
    this.id = schedule.id;
  }
}
