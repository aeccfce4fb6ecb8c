import { getAgentByName } from 'agents';
import { recordAudit } from '../audit/record';
import { log } from '../observability/log';
import { limiter, tenantLimiterName } from './limits';
import type { SessionTarget } from './session-registry';

/**
 * The life of a session slot, in one place. A slot is
 * - reserved by the gate's `admit` when a request opens a session (initialize, a new SSE stream),
 *   which may first evict the caller's least recently used session (`session.evicted`);
 * - confirmed with the framework's session id, or given back when the framework refused
 *   (`settleSlot`);
 * - touched by every later request of the session (inside `admit`, no extra round trip);
 * - released exactly once when the session ends: by the gate on its owner's DELETE, by the
 *   session object at idle expiry, or taken by the limiter itself for an eviction or an End from
 *   the dashboard (`endSession`); the object's teardown (`destroy()`) never touches the slot.
 */

/** After the framework answered an opening request: confirm the reserved slot, or give it back. */
export async function settleSlot(env: Env, tenantId: string, reservation: string | undefined, session: string | null): Promise<void> {
  if (!reservation) return;
  const stub = limiter(env, tenantLimiterName(tenantId));
  if (session) await stub.register(reservation, session);
  else await stub.release(reservation);
}

/** Give a session's slot back (its owner's DELETE, its idle expiry). Idempotent. */
export async function releaseSlot(env: Env, tenantId: string, session: string): Promise<void> {
  await limiter(env, tenantLimiterName(tenantId)).release(session);
}

interface TerminableSession {
  _cf_terminateSession(): Promise<void>;
}

/**
 * End a session whose slot the limiter has already taken back (an eviction, or an End from the
 * dashboard): the SDK's own DELETE teardown, so the object clears its stored initialize request at
 * once (any request for it is unknown) and deletes all its storage from its alarm, after shipping
 * its audit outbox. Recorded as `session.<how>`. Never throws: if the object cannot be reached now,
 * its armed idle expiry still deletes it.
 */
export async function endSession(
  env: Env,
  tenantId: string,
  target: SessionTarget,
  how: 'evicted' | 'ended',
  by?: { user?: string; client?: string; via?: string },
): Promise<void> {
  try {
    const namespace = (env as unknown as Record<string, unknown>)[target.binding] as DurableObjectNamespace | undefined;
    if (!namespace || typeof namespace.idFromName !== 'function') throw new Error(`no session binding ${target.binding}`);
    const stub = (await getAgentByName(namespace as never, target.name)) as unknown as TerminableSession;
    await stub._cf_terminateSession();
  } catch (error) {
    log('warn', 'session.end_failed', { tenant: tenantId, server: target.server, error: String(error).slice(0, 200) });
  }
  await recordAudit(env, {
    tenant: tenantId,
    action: `session.${how}`,
    result: 'ok',
    user: by?.user ?? target.user,
    client: by?.client,
    server: target.server,
    session: target.name.slice(target.name.indexOf(':') + 1),
    details: {
      owner: target.user,
      ...(how === 'evicted' ? { reason: 'session quota reached: least recently used session of this user or key ended' } : {}),
      ...(by?.via ? { via: by.via } : {}),
    },
  }).catch((error) => log('error', 'audit.session_end_failed', { error: String(error).slice(0, 200) }));
}
