/**
 * A mergeable latency sketch with a bounded relative error (the DDSketch idea): values fall into
 * logarithmic buckets `(γ^(i-1), γ^i]` with `γ = (1 + α) / (1 - α)`, and a quantile is answered
 * with the bucket's midpoint `2γ^i / (γ + 1)`, which is within `α` (relative) of every value in
 * the bucket. Sketches of minutes add up to sketches of hours, days and many servers by adding
 * counts, so metrics never read raw events; the size depends on the spread of latencies (about
 * 56 buckets per factor of 10 at α = 2 %), not on how many events were recorded.
 *
 * Values at or below `MIN_VALUE` (workerd reports 0 ms for a handler without I/O) are counted in a
 * zero bucket and read back as 0.
 */

/** Relative accuracy of every quantile read from a sketch. */
export const RELATIVE_ACCURACY = 0.02;
const GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY);
const LOG_GAMMA = Math.log(GAMMA);
/** Latencies at or below this (ms) count as zero. */
const MIN_VALUE = 1e-3;

/** Serialised form, as stored in rollup rows and sent over RPC: `z` zero count, `b` bucket index → count. */
export interface SketchData {
  z: number;
  b: Record<string, number>;
}

export class LatencySketch {
  private zero = 0;
  private readonly buckets = new Map<number, number>();

  static from(data: SketchData | string | null | undefined): LatencySketch {
    const sketch = new LatencySketch();
    if (data) sketch.merge(typeof data === 'string' ? (JSON.parse(data) as SketchData) : data);
    return sketch;
  }

  /** Number of values recorded. */
  get count(): number {
    let n = this.zero;
    for (const c of this.buckets.values()) n += c;
    return n;
  }

  add(value: number, weight = 1): void {
    if (!Number.isFinite(value) || weight <= 0) return;
    if (value <= MIN_VALUE) {
      this.zero += weight;
      return;
    }
    const index = Math.ceil(Math.log(value) / LOG_GAMMA);
    this.buckets.set(index, (this.buckets.get(index) ?? 0) + weight);
  }

  merge(other: SketchData | LatencySketch): void {
    const data = other instanceof LatencySketch ? other.toJSON() : other;
    this.zero += data.z;
    for (const [k, c] of Object.entries(data.b)) {
      const index = Number(k);
      this.buckets.set(index, (this.buckets.get(index) ?? 0) + c);
    }
  }

  /**
   * Nearest-rank quantile (the smallest recorded value with at least `q` of all values at or below
   * it), within `RELATIVE_ACCURACY` of the exact answer; null when empty.
   */
  quantile(q: number): number | null {
    const total = this.count;
    if (total === 0) return null;
    const rank = Math.max(1, Math.ceil(q * total));
    let seen = this.zero;
    if (seen >= rank) return 0;
    for (const index of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(index)!;
      if (seen >= rank) return (2 * GAMMA ** index) / (GAMMA + 1);
    }
    return null;
  }

  toJSON(): SketchData {
    return { z: this.zero, b: Object.fromEntries(this.buckets) };
  }
}

/** p50, p95 and p99 rounded to 0.01 ms (the rounding adds at most 0.5 % for values of 1 ms or more). */
export function percentiles(sketch: LatencySketch): { p50: number | null; p95: number | null; p99: number | null } {
  const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);
  return { p50: round(sketch.quantile(0.5)), p95: round(sketch.quantile(0.95)), p99: round(sketch.quantile(0.99)) };
}
