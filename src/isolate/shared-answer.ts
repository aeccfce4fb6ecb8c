/**
 * One request's answer that other requests of the same isolate wait for (a credential read, a
 * lease of the tenant's budget), so a burst costs one round trip instead of one per request.
 *
 * Waiters never await the I/O itself: the Workers runtime binds I/O to the request that started
 * it, and a second request awaiting a D1 call's promise failed with "Cannot perform I/O on behalf
 * of a different request" (seen at c=100 in `wrangler dev`, 231 of 3,935 calls). They await a
 * plain promise the first request settles with the plain value, and only for a bounded time: a
 * request cancelled mid-call never settles it.
 */
export interface SharedAnswer<T> {
  /** What waiters pass to `waitFor`. */
  readonly answer: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A new, unsettled answer. An unwaited rejection is not reported: each waiter handles it. */
export function sharedAnswer<T>(): SharedAnswer<T> {
  let settle!: { resolve: (value: T) => void; reject: (error: unknown) => void };
  const answer = new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
  answer.catch(() => undefined);
  return { answer, resolve: (value) => settle.resolve(value), reject: (error) => settle.reject(error) };
}

/** `answer`'s value if it is fulfilled within `ms`; unsettled when it is rejected or late. */
export async function waitFor<T>(answer: Promise<T>, ms: number): Promise<{ settled: true; value: T } | { settled: false }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<{ settled: false }>((resolve) => (timer = setTimeout(() => resolve({ settled: false }), Math.max(0, ms))));
  try {
    return await Promise.race([
      answer.then(
        (value) => ({ settled: true as const, value }),
        () => ({ settled: false as const }),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
