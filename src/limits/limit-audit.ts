import { recordAudit } from '../audit/record';
import { log } from '../observability/log';
import type { LimitHit } from './limits';

/** Refusals of one kind, for one caller, within this window become one event with their count. */
export const LIMIT_AUDIT_WINDOW_MS = 1000;

const open = new Map<string, { count: number }>();

/**
 * Audit a limit refusal. A flood of 429s is the case where one event per refusal would let the
 * noisy tenant spend the platform's CPU and the audit store on its own refusals, so refusals with
 * the same tenant, limit, server, caller and IP are coalesced per isolate: the first opens a
 * one-second window, and one `rate_limited` event with `details.count` is recorded when it closes.
 * Every refusal is counted; metrics sum the counts.
 */
export function auditLimitHit(env: Env, ctx: Pick<ExecutionContext, 'waitUntil'>, hit: LimitHit): void {
  const key = [hit.tenant, hit.which, hit.server, hit.user, hit.client, hit.ip].join('|');
  const pending = open.get(key);
  if (pending) {
    pending.count++;
    return;
  }
  const entry = { count: 1 };
  open.set(key, entry);
  const flush = async () => {
    await new Promise((resolve) => setTimeout(resolve, LIMIT_AUDIT_WINDOW_MS));
    open.delete(key);
    log('warn', 'rate_limited', { limit: hit.which, tenant: hit.tenant ?? undefined, server: hit.server, principal: hit.user, count: entry.count });
    await recordAudit(env, {
      tenant: hit.tenant ?? null,
      action: `limit.${hit.which}`,
      result: 'rate_limited',
      user: hit.user,
      client: hit.client,
      server: hit.server,
      ip: hit.ip,
      details: { retryAfter: hit.retryAfter, count: entry.count },
    });
  };
  ctx.waitUntil(flush().catch((error) => log('error', 'audit.limit_failed', { error: String(error).slice(0, 200) })));
}
