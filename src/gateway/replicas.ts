import { z } from 'zod';
import {
  BALANCE_STRATEGIES,
  ewma,
  newCursor,
  pickReplica,
  HEALTH_RECENT_INTERVALS,
  type BalanceCursor,
  type BalanceStrategy,
  type ReplicaFigures,
} from './balancer';
import { CircuitBreaker, type BreakerTransition } from './circuit-breaker';
import type { UpstreamEra } from './modern-wire';
import type { UpstreamSettings } from './upstream-model';

/**
 * The replicas of one upstream and what the platform knows about each (health, latency, open
 * calls, breaker). The registration schema lives here so that one place says what a replica is;
 * the runtime figures are held by the upstream's state object (`ReplicaSet`), one per upstream.
 */

/** The most replicas one upstream may have (each is health-checked, so each costs platform traffic). */
export const MAX_REPLICAS = 10;

export const ReplicaSchema = z.strictObject({
  url: z.url().max(2048),
  weight: z.number().int().min(1).max(100).default(1),
});
export type Replica = z.infer<typeof ReplicaSchema>;

export const ReplicasSchema = z.array(ReplicaSchema).min(1).max(MAX_REPLICAS);
export const BalanceSchema = z.enum(BALANCE_STRATEGIES);

/** A replica's health-check outcome. */
export interface ReplicaHealth {
  checkedAt: number;
  ok: boolean;
  latencyMs: number;
  error?: string;
}

interface ReplicaRuntime {
  url: string;
  weight: number;
  breaker: CircuitBreaker;
  openCalls: number;
  ewmaMs: number | null;
  health: ReplicaHealth | null;
  healthyAt: number;
  /** The era its last `server/discover` probe found, and when (re-probed after ERA_TTL_MS or a fault). */
  era: { era: UpstreamEra; probedAt: number } | null;
}

/** How long a replica's probed era is trusted: a fault forgets it sooner, so an upgraded or downgraded replica is re-probed. */
export const ERA_TTL_MS = 10 * 60_000;

/**
 * Runtime state of an upstream's replicas: one breaker per replica (a replica that fails
 * `failureThreshold` times in a row is taken out for `cooldownMs`, then tried again by one call or
 * by its next health check), the EWMA of response times, open calls and the last health check.
 * Rebuilt when the configuration version changes; kept in memory (figures restart after eviction).
 */
export class ReplicaSet {
  private readonly replicas: ReplicaRuntime[];
  private readonly cursor: BalanceCursor = newCursor();

  constructor(
    readonly version: number,
    list: Replica[],
    private readonly strategy: BalanceStrategy,
    private readonly settings: UpstreamSettings,
  ) {
    this.replicas = list.map((r) => ({
      url: r.url,
      weight: r.weight,
      breaker: new CircuitBreaker(settings.failureThreshold, settings.cooldownMs),
      openCalls: 0,
      ewmaMs: null,
      health: null,
      healthyAt: 0,
      era: null,
    }));
  }

  get size(): number {
    return this.replicas.length;
  }

  url(index: number): string {
    return this.replicas[index]!.url;
  }

  /**
   * Choose a replica for a call (or a new upstream session), not one in `exclude`; counts it as an
   * open call. `prefer` is a session's current replica: kept while it is available (stickiness).
   */
  pick(now: number, exclude: number[], onTransition: (i: number, t: BreakerTransition) => void, prefer?: number): number | null {
    const figures = this.figures(now);
    let index: number | null = prefer !== undefined && figures[prefer]?.available && !exclude.includes(prefer) ? prefer : null;
    index ??= pickReplica(this.strategy, figures, this.cursor, { exclude, now, recentMs: HEALTH_RECENT_INTERVALS * this.settings.healthIntervalMs });
    if (index === null) return null;
    const r = this.replicas[index]!;
    if (r.breaker.state !== 'closed' && this.replicas.length > 1) r.breaker.admit(now, (t) => onTransition(index!, t)); // the half-open trial
    r.openCalls += 1;
    return index;
  }

  /** A call on replica `index` ended: `fault` counts against its breaker; a success feeds its latency. */
  report(index: number, fault: boolean, latencyMs: number, reason: string, now: number, onTransition: (i: number, t: BreakerTransition) => void): void {
    const r = this.replicas[index];
    if (!r) return;
    r.openCalls = Math.max(0, r.openCalls - 1);
    if (!fault) r.ewmaMs = ewma(r.ewmaMs, latencyMs);
    else r.era = null; // re-probe on failure: the replica may have changed the revisions it speaks
    r.breaker.record(!fault, now, reason, (t) => onTransition(index, t));
  }

  /** A health check of replica `index` finished (its ping time also feeds the EWMA, so a recovered replica is re-measured). */
  checked(index: number, health: ReplicaHealth, pingMs: number, onTransition: (i: number, t: BreakerTransition) => void): void {
    const r = this.replicas[index];
    if (!r) return;
    r.health = health;
    if (!health.ok) r.era = null;
    if (health.ok) {
      r.healthyAt = health.checkedAt + health.latencyMs;
      r.ewmaMs = ewma(r.ewmaMs, pingMs);
    }
    r.breaker.record(health.ok, Date.now(), health.error ?? '', (t) => onTransition(index, t));
  }

  /** The replica's probed era while fresh, else undefined (probe it). */
  era(index: number, now: number): UpstreamEra | undefined {
    const e = this.replicas[index]?.era;
    return e && now - e.probedAt < ERA_TTL_MS ? e.era : undefined;
  }

  /** Record a probe's answer. */
  setEra(index: number, era: UpstreamEra, now: number): void {
    const r = this.replicas[index];
    if (r) r.era = { era, probedAt: now };
  }

  /** Replicas currently taken out (breaker not closed). */
  down(): number {
    return this.replicas.filter((r) => r.breaker.state !== 'closed').length;
  }

  /** For the admin API: per replica URL, weight, breaker, health, latency and open calls. */
  view(): Array<Record<string, unknown>> {
    return this.replicas.map((r, i) => ({
      index: i,
      url: r.url,
      weight: r.weight,
      breaker: { state: r.breaker.state, consecutiveFailures: r.breaker.failures, openedAt: r.breaker.openedAt || null },
      health: r.health,
      latencyMs: r.ewmaMs === null ? null : Math.round(r.ewmaMs),
      openCalls: r.openCalls,
      era: r.era?.era ?? null,
      eraProbedAt: r.era?.probedAt ?? null,
    }));
  }

  private figures(now: number): ReplicaFigures[] {
    // A single replica is never taken out on its own: the upstream's breaker governs it, as before replicas.
    if (this.replicas.length === 1)
      return [{ weight: 1, available: true, openCalls: this.replicas[0]!.openCalls, ewmaMs: this.replicas[0]!.ewmaMs, healthyAt: this.replicas[0]!.healthyAt }];
    return this.replicas.map((r) => ({
      weight: r.weight,
      // An open breaker whose cooldown has passed makes the replica available for one trial.
      available:
        r.breaker.state === 'closed' ||
        (r.breaker.state === 'open' && now - r.breaker.openedAt >= this.settings.cooldownMs) ||
        (r.breaker.state === 'half-open' && r.openCalls === 0),
      openCalls: r.openCalls,
      ewmaMs: r.ewmaMs,
      healthyAt: r.healthyAt,
    }));
  }
}
