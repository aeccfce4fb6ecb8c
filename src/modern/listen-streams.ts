/**
 * `subscriptions/listen` streams of the 2026-07-28 lane, bounded per tenant.
 *
 * A listen stream is a long-lived response held open by the SDK handler of this isolate. The SDK
 * caps a handler at 1024 such streams; without a bound of our own one tenant could hold every slot
 * of an isolate (and keep them open for free). Each tenant may hold at most
 * {@link MAX_LISTEN_STREAMS_PER_TENANT} open streams per isolate; the slot is given back when the
 * stream ends, whether the server closes it or the client goes away.
 */

/** Open listen streams one tenant may hold in one isolate. */
export const MAX_LISTEN_STREAMS_PER_TENANT = 16;

/** Seconds a refused client is told to wait: slots free up only as the tenant's own streams end. */
export const LISTEN_RETRY_AFTER_SECONDS = 30;

const open = new Map<string, number>();

/** Take a slot for `tenant`; returns the release function (idempotent), or null at the bound. */
export function claimListenSlot(tenant: string): (() => void) | null {
  const held = open.get(tenant) ?? 0;
  if (held >= MAX_LISTEN_STREAMS_PER_TENANT) return null;
  open.set(tenant, held + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const now = (open.get(tenant) ?? 1) - 1;
    if (now <= 0) open.delete(tenant);
    else open.set(tenant, now);
  };
}

/** The same response whose body calls `release` once when it ends, fails or is cancelled by the client. */
export function releasingOnClose(response: Response, release: () => void): Response {
  if (!response.body) {
    release();
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read();
        if (done) {
          release();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        release();
        controller.error(error);
      }
    },
    cancel(reason) {
      release();
      return reader.cancel(reason);
    },
  });
  return new Response(body, response);
}
