/**
 * Replica selection for an upstream with several replicas: a pure function of the replicas' current
 * figures and a small cursor, so every strategy's distribution is unit-testable without a network
 * (`test/worker/balancer.test.ts`). The upstream's state object owns the figures and the cursor.
 */

export const BALANCE_STRATEGIES = ['round-robin', 'weighted', 'least-connections', 'fastest', 'health'] as const;
export type BalanceStrategy = (typeof BALANCE_STRATEGIES)[number];

/** What the balancer knows about one replica. */
export interface ReplicaFigures {
  weight: number;
  /** False while the replica's breaker is open (taken out until its cooldown ends). */
  available: boolean;
  /** Calls admitted to this replica and not yet reported. */
  openCalls: number;
  /** Recent response time (EWMA of successful calls and health pings); null before the first measure. */
  ewmaMs: number | null;
  /** When the last passing health check finished (0: none). */
  healthyAt: number;
}

/** Per-upstream selection memory: a round-robin position and the smooth-weighted-round-robin credits. */
export interface BalanceCursor {
  next: number;
  credits: number[];
}

/** How much a new response time counts in the EWMA (the rest is the history). */
export const EWMA_ALPHA = 0.3;
/** A health check counts as "recent" for the `health` strategy for this many health intervals. */
export const HEALTH_RECENT_INTERVALS = 2;

export function newCursor(): BalanceCursor {
  return { next: 0, credits: [] };
}

/** Fold one response time into a replica's EWMA. */
export function ewma(previous: number | null, sampleMs: number): number {
  return previous === null ? sampleMs : previous + EWMA_ALPHA * (sampleMs - previous);
}

/**
 * Pick the replica for the next call, or null when none may be used. `exclude` lists replicas that
 * already failed this call (failover). Unavailable replicas are skipped; when every remaining one is
 * unavailable, null. `health` prefers replicas whose last passing check is younger than
 * `recentMs`, falling back to round-robin over the others.
 */
export function pickReplica(
  strategy: BalanceStrategy,
  replicas: ReplicaFigures[],
  cursor: BalanceCursor,
  opts: { exclude?: number[]; now: number; recentMs: number },
): number | null {
  const exclude = new Set(opts.exclude ?? []);
  let candidates = replicas.map((_, i) => i).filter((i) => replicas[i]!.available && !exclude.has(i));
  if (candidates.length === 0) return null;
  switch (strategy) {
    case 'weighted':
      return smoothWeighted(replicas, candidates, cursor);
    case 'least-connections':
      return lowest(candidates, cursor, (i) => replicas[i]!.openCalls);
    case 'fastest':
      // An unmeasured replica counts as fastest so that it gets measured; ties rotate.
      return lowest(candidates, cursor, (i) => replicas[i]!.ewmaMs ?? 0);
    case 'health': {
      const recent = candidates.filter((i) => replicas[i]!.healthyAt > 0 && opts.now - replicas[i]!.healthyAt <= opts.recentMs);
      if (recent.length > 0) candidates = recent;
      return rotate(candidates, cursor);
    }
    default:
      return rotate(candidates, cursor);
  }
}

/** Round-robin over the candidates: the first candidate at or after the cursor. */
function rotate(candidates: number[], cursor: BalanceCursor): number {
  const after = candidates.find((i) => i >= cursor.next) ?? candidates[0]!;
  cursor.next = after + 1;
  return after;
}

/** The candidate with the lowest score; equal scores take turns (round-robin among the tied). */
function lowest(candidates: number[], cursor: BalanceCursor, score: (i: number) => number): number {
  const best = Math.min(...candidates.map(score));
  return rotate(
    candidates.filter((i) => score(i) === best),
    cursor,
  );
}

/**
 * Smooth weighted round-robin (as in nginx): each pick adds every candidate's weight to its credit,
 * takes the highest credit and subtracts the total. Exact proportions over every `sum(weights)`
 * picks, and the heavy replica's turns are spread out rather than bunched.
 */
function smoothWeighted(replicas: ReplicaFigures[], candidates: number[], cursor: BalanceCursor): number {
  let total = 0;
  let best = candidates[0]!;
  for (const i of candidates) {
    const w = Math.max(1, replicas[i]!.weight);
    cursor.credits[i] = (cursor.credits[i] ?? 0) + w;
    total += w;
    if (cursor.credits[i]! > cursor.credits[best]!) best = i;
  }
  cursor.credits[best]! -= total;
  return best;
}
