import { probeEra, type UpstreamEra } from './modern-wire';
import type { ReplicaSet } from './replicas';
import type { UpstreamTarget } from './upstream-connection';

/**
 * Which protocol era each replica of an upstream speaks (2025 sessions or stateless 2026-07-28),
 * found by probing it with `server/discover`. Kept apart from the replicas' figures because it is
 * network work with its own rule: one probe per replica at a time, shared by every concurrent
 * caller, its answer cached on the replica (`ReplicaSet.era`, ERA_TTL_MS, forgotten on a fault).
 */
export class EraProbes {
  private readonly probes = new Map<string, Promise<UpstreamEra | undefined>>();

  /**
   * The era replica `index` speaks: the cached one, else one probe for all concurrent callers. A
   * probe that cannot reach the replica leaves the era unknown (the caller uses the 2025 handshake,
   * whose failure is reported as usual), so the next call probes again.
   */
  of(replicas: ReplicaSet, index: number, target: UpstreamTarget): Promise<UpstreamEra | undefined> {
    const known = replicas.era(index, Date.now());
    if (known) return Promise.resolve(known);
    const probeKey = `${replicas.version}:${index}`;
    let probe = this.probes.get(probeKey);
    if (!probe) {
      probe = probeEra(target)
        .then((era) => {
          replicas.setEra(index, era, Date.now());
          return era as UpstreamEra | undefined;
        })
        .catch(() => undefined)
        .finally(() => this.probes.delete(probeKey));
      this.probes.set(probeKey, probe);
    }
    return probe;
  }
}

/** Which era the upstream speaks, as its replicas' last probes found: one era, `mixed`, or null before any probe. */
export function eraSummary(replicas: ReplicaSet): string | null {
  const eras = new Set(replicas.view().flatMap((r) => (r.era ? [r.era as string] : [])));
  return eras.size === 0 ? null : eras.size === 1 ? [...eras][0]! : 'mixed';
}
