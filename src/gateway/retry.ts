/**
 * Retries with exponential backoff and full jitter, for idempotent upstream operations only
 * (tools/list, resources/read, prompts/get, tools/call of a tool annotated `idempotentHint`). A
 * non-idempotent call is never repeated: the upstream may have acted before the failure showed.
 */

/** Whether a failure is worth retrying: the upstream was unreachable, timed out or answered 5xx/429. */
export type Retryable = (error: unknown) => boolean;

/** Delay before attempt `n` (1-based retry number): random in [0, base * 2^(n-1)], capped at 5 s. */
export function backoffDelay(retry: number, baseMs: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(5_000, baseMs * 2 ** (retry - 1)));
}

/**
 * Run `attempt` up to `1 + retries` times while failures are retryable; `onRetry` hears each
 * failure that is retried. The last error is rethrown.
 */
export async function withRetries<T>(
  attempt: (n: number) => Promise<T>,
  opts: { retries: number; baseMs: number; retryable: Retryable; onRetry?: (error: unknown, retry: number) => void },
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      if (n >= opts.retries || !opts.retryable(error)) throw error;
      opts.onRetry?.(error, n + 1);
      await new Promise((r) => setTimeout(r, backoffDelay(n + 1, opts.baseMs)));
    }
  }
}
