import { describe, expect, it } from 'vitest';
import { ewma, newCursor, pickReplica, type BalanceStrategy, type ReplicaFigures } from '../../src/gateway/balancer';

const replica = (over: Partial<ReplicaFigures> = {}): ReplicaFigures => ({ weight: 1, available: true, openCalls: 0, ewmaMs: null, healthyAt: 0, ...over });

/** Pick `n` times and count picks per replica. */
function distribution(strategy: BalanceStrategy, replicas: ReplicaFigures[], n: number, exclude: number[] = []): number[] {
  const cursor = newCursor();
  const counts = replicas.map(() => 0);
  for (let i = 0; i < n; i++) {
    const pick = pickReplica(strategy, replicas, cursor, { now: 1_000_000, recentMs: 120_000, exclude });
    if (pick !== null) counts[pick]! += 1;
  }
  return counts;
}

// Tolerance stated for every strategy: the selection is deterministic, so distributions are exact
// (round-robin and weighted: exactly proportional over every full cycle; others: all or nothing).
describe('replica selection (pure)', () => {
  it('round-robin spreads calls evenly and skips unavailable and excluded replicas', () => {
    expect(distribution('round-robin', [replica(), replica(), replica()], 300)).toEqual([100, 100, 100]);
    expect(distribution('round-robin', [replica(), replica({ available: false }), replica()], 300)).toEqual([150, 0, 150]);
    expect(distribution('round-robin', [replica(), replica(), replica()], 300, [0])).toEqual([0, 150, 150]);
  });

  it('weighted gives each replica its weight share exactly over each cycle, interleaved', () => {
    expect(distribution('weighted', [replica({ weight: 5 }), replica({ weight: 3 }), replica({ weight: 2 })], 1000)).toEqual([500, 300, 200]);
    const cursor = newCursor();
    const seq = Array.from({ length: 4 }, () => pickReplica('weighted', [replica({ weight: 3 }), replica({ weight: 1 })], cursor, { now: 0, recentMs: 1 }));
    expect(seq.filter((i) => i === 0)).toHaveLength(3);
    // A replica taken out gives its share to the others.
    expect(distribution('weighted', [replica({ weight: 5 }), replica({ weight: 3, available: false }), replica({ weight: 2 })], 700)).toEqual([500, 0, 200]);
  });

  it('least-connections picks the replica with the fewest open calls, rotating among ties', () => {
    expect(distribution('least-connections', [replica({ openCalls: 3 }), replica({ openCalls: 1 }), replica({ openCalls: 2 })], 10)).toEqual([0, 10, 0]);
    expect(distribution('least-connections', [replica({ openCalls: 1 }), replica({ openCalls: 1 }), replica({ openCalls: 4 })], 10)).toEqual([5, 5, 0]);
  });

  it('fastest avoids the slow replica and measures unmeasured ones first', () => {
    expect(distribution('fastest', [replica({ ewmaMs: 20 }), replica({ ewmaMs: 400 }), replica({ ewmaMs: 20 })], 100)).toEqual([50, 0, 50]);
    expect(distribution('fastest', [replica({ ewmaMs: 20 }), replica({ ewmaMs: null })], 1)).toEqual([0, 1]);
    expect(ewma(null, 100)).toBe(100);
    expect(ewma(100, 200)).toBeCloseTo(130);
  });

  it('health prefers replicas with a recent passing check and falls back to the others', () => {
    const now = 1_000_000;
    expect(
      distribution('health', [replica({ healthyAt: now - 1000 }), replica({ healthyAt: now - 500_000 }), replica({ healthyAt: now - 2000 })], 100),
    ).toEqual([50, 0, 50]);
    expect(distribution('health', [replica(), replica()], 10)).toEqual([5, 5]);
  });

  it('answers null when no replica may be used', () => {
    expect(pickReplica('round-robin', [replica({ available: false })], newCursor(), { now: 0, recentMs: 1 })).toBeNull();
    expect(pickReplica('fastest', [replica()], newCursor(), { now: 0, recentMs: 1, exclude: [0] })).toBeNull();
  });
});
