import type { AuditEvent } from './audit-event';
import { LatencySketch, type SketchData } from '../metrics/latency-sketch';

/**
 * Rollups: per server and time bucket (a minute, and an hour), the counts metrics report and a
 * latency sketch. They are updated in the same transaction that stores the events, so a metrics
 * query reads a few rows per hour of window, whatever the number of events behind them.
 */
export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const GRAINS = [MINUTE, HOUR] as const;

export interface RollupCounts {
  requests: number;
  errors: number;
  denials: number;
  rateLimited: number;
}

export interface RollupRow extends RollupCounts {
  grain: number;
  start: number;
  server: string;
  sketch: SketchData;
}

/** Coalesced rate-limit events stand for `details.count` refusals each (src/limits/limit-audit.ts). */
export function eventWeight(e: AuditEvent): number {
  const count = e.details?.count;
  return typeof count === 'number' && Number.isFinite(count) && count > 0 ? count : 1;
}

/** Add one event to a rollup's counts and sketch, with the same rules the raw-event metrics had. */
export function addToRollup(row: RollupCounts & { sketch: LatencySketch }, e: AuditEvent): void {
  const weight = eventWeight(e);
  row.requests += weight;
  if (e.result === 'error') row.errors += 1;
  if (e.result === 'denied') row.denials += 1;
  if (e.result === 'rate_limited') row.rateLimited += weight;
  // Percentiles cover handled requests only: denials and rate limits never reached a handler.
  if (e.latencyMs !== null && (e.result === 'ok' || e.result === 'error')) row.sketch.add(e.latencyMs);
}

/** Sum of counts, for merging rollups into buckets and servers. */
export function addCounts(into: RollupCounts, from: RollupCounts): void {
  into.requests += from.requests;
  into.errors += from.errors;
  into.denials += from.denials;
  into.rateLimited += from.rateLimited;
}

/** Rollup deltas of a batch of events, keyed by grain, bucket start and server (events without a server have no metrics). */
export function rollupDeltas(events: AuditEvent[]): Map<string, RollupCounts & { grain: number; start: number; server: string; sketch: LatencySketch }> {
  const deltas = new Map<string, RollupCounts & { grain: number; start: number; server: string; sketch: LatencySketch }>();
  for (const e of events) {
    if (e.server === null) continue;
    for (const grain of GRAINS) {
      const start = e.time - (e.time % grain);
      const key = `${grain}|${start}|${e.server}`;
      let row = deltas.get(key);
      if (!row) deltas.set(key, (row = { grain, start, server: e.server, requests: 0, errors: 0, denials: 0, rateLimited: 0, sketch: new LatencySketch() }));
      addToRollup(row, e);
    }
  }
  return deltas;
}
