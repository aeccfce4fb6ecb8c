import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What every piece of Worker code may need about the request it serves without threading it
 * through each signature: the correlation id (returned to the client, written to logs and audit
 * events), the client IP, and the bindings to record audit events in the background.
 */
export interface RequestContext {
  correlationId: string;
  ip: string | null;
  env: Env;
  ctx: ExecutionContext;
  /** Tenant and user learned while serving (e.g. at the token endpoint), for the request's own audit event. */
  tenant?: string;
  subject?: string;
  /** What the token endpoint decided beyond its status (e.g. `refresh_token_reuse`), for that event's details. */
  note?: string;
}

/** Response (and accepted request) header carrying the correlation id. */
export const CORRELATION_HEADER = 'X-Correlation-Id';
/** A client-supplied id is kept only when it is short and plain, so it can never inject into logs or CSV. */
const CLIENT_ID_PATTERN = /^[A-Za-z0-9._:-]{8,64}$/;

const storage = new AsyncLocalStorage<RequestContext>();

/** Run `fn` with a fresh context for `request`. */
export function withRequestContext<T>(request: Request, env: Env, ctx: ExecutionContext, fn: () => Promise<T>): Promise<T> {
  const offered = request.headers.get(CORRELATION_HEADER);
  const correlationId = offered && CLIENT_ID_PATTERN.test(offered) ? offered : crypto.randomUUID();
  return storage.run({ correlationId, ip: request.headers.get('cf-connecting-ip'), env, ctx }, fn);
}

/** The current request's context, or undefined outside a Worker request (inside Durable Objects). */
export function requestContext(): RequestContext | undefined {
  return storage.getStore();
}
