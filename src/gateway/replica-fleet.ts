import { log } from '../observability/log';
import type { BreakerTransition } from './circuit-breaker';
import { ReplicaSet } from './replicas';
import type { UpstreamHost } from './upstream-host';
import { replicasOf, type UpstreamRecord } from './upstream-model';
import { setReplicasDown } from './upstream-store';

/**
 * The replicas of one upstream as its state object keeps them: the `ReplicaSet` (pure runtime
 * figures and per-replica breakers) for the current configuration, rebuilt when its version
 * changes, and what a replica being taken out or coming back does (logged, audited, and the down
 * count mirrored to D1 for /health): callers pass `transition` to the set's `pick`, `report` and
 * `checked`.
 */
export class ReplicaFleet {
  private set: ReplicaSet | null = null;

  constructor(private readonly host: UpstreamHost) {}

  /** The replicas' runtime state for the current configuration (rebuilt when the version changes). */
  of(record: UpstreamRecord): ReplicaSet {
    if (this.set?.version !== record.version) this.set = new ReplicaSet(record.version, replicasOf(record), record.balance, record.settings);
    return this.set;
  }

  /** Forget the runtime figures (the upstream was deleted). */
  forget(): void {
    this.set = null;
  }

  /** A replica was taken out or came back: logged, audited, and the down count mirrored to D1 for /health. */
  readonly transition = (replica: number, t: BreakerTransition): void => {
    const key = this.host.key!;
    if (t.to === 'half-open') return;
    const action = t.to === 'open' ? 'gateway.replica_down' : 'gateway.replica_up';
    log(t.to === 'open' ? 'warn' : 'info', action, { tenant: key.tenant, server: key.name, replica, reason: t.reason });
    this.host.audit({ action, result: t.to === 'open' ? 'error' : 'ok', details: { replica, reason: t.reason.slice(0, 200) } });
    const down = this.set?.down() ?? 0;
    this.host.later(setReplicasDown(this.host.env.DB, key.tenant, key.name, down).catch(() => undefined));
  };
}
