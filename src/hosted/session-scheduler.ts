/**
 * The slice of the Agents SDK scheduler (which owns the session object's alarm) that the session's
 * jobs use: idle expiry and audit shipping. Callbacks are method names of the session object, as
 * the SDK requires; `HostedMcpAgent` adapts its own `schedule`/`cancelSchedule` to this.
 */
export interface SessionScheduler {
  schedule(when: Date | number, callback: string, payload?: unknown, options?: { idempotent?: boolean }): Promise<{ id: string }>;
  cancelSchedule(id: string): Promise<boolean>;
}
