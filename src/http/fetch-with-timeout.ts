/** Default bound on any outbound call the platform makes. */
export const DEFAULT_OUTBOUND_TIMEOUT_MS = 10_000;

/** Thrown when an outbound call did not finish in time. */
export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * Race `work` against a timer, so no outbound dependency can hang a request (or a Durable
 * Object) indefinitely. `work` receives an AbortSignal that fires at the deadline, so the
 * underlying I/O is cancelled too, not just abandoned.
 */
export async function withTimeout<T>(what: string, ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort(new TimeoutError(what, ms));
      reject(new TimeoutError(what, ms));
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `fetch` with a deadline on the response headers: a host that accepts the connection and never
 * answers cannot hold a request or a Durable Object. The body is the caller's to bound (streams
 * such as SSE are long-lived by design; the gateway bounds its reads by size and by the MCP SDK's
 * request timeouts). Every outbound HTTP call the platform makes goes through here (the gateway's
 * upstream fetch); a caller's own signal still works alongside the timeout.
 */
export function fetchWithTimeout(input: RequestInfo | URL, init: RequestInit = {}, ms = DEFAULT_OUTBOUND_TIMEOUT_MS): Promise<Response> {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  return withTimeout(`fetch ${new URL(url).origin}`, ms, (signal) =>
    fetch(input, { ...init, signal: init.signal ? AbortSignal.any([init.signal, signal]) : signal }),
  );
}
