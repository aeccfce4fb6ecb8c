import type { ReplicaHealth } from './replicas';
import { openUpstream } from './upstream-client';
import { asFault, type UpstreamTarget } from './upstream-connection';

/**
 * One replica's periodic health check: connect (the MCP handshake), ping, close. Platform-initiated
 * traffic, spaced by `health-schedule.ts`; the state object's alarm runs it for each replica and
 * feeds the outcome to the replica's and the upstream's breakers.
 *
 * `target` is resolved inside the check, so a replica whose target cannot even be built (its
 * credentials cannot be opened) counts as unhealthy rather than failing the alarm.
 */
export async function checkReplica(target: () => Promise<UpstreamTarget>, requestTimeoutMs: number): Promise<{ health: ReplicaHealth; pingMs: number }> {
  const started = Date.now();
  try {
    const client = await openUpstream(await target());
    const pingStart = Date.now();
    await client.ping({ timeout: requestTimeoutMs }).finally(() => client.close().catch(() => undefined));
    return { health: { checkedAt: started, ok: true, latencyMs: Date.now() - started }, pingMs: Date.now() - pingStart };
  } catch (error) {
    return {
      health: { checkedAt: started, ok: false, latencyMs: Date.now() - started, error: asFault(error, 'health check').message.slice(0, 200) },
      pingMs: 0,
    };
  }
}
