import { describe, expect, it } from 'vitest';
import { LatencySketch, percentiles, RELATIVE_ACCURACY } from '../../src/metrics/latency-sketch';

/** Deterministic PRNG (mulberry32), so every run checks the same samples. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Exact nearest-rank quantile: the smallest value with at least q of all values at or below it. */
function exact(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

const QUANTILES = [0.01, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

const DISTRIBUTIONS: Record<string, (r: () => number) => number> = {
  'uniform 1..10,000 ms': (r) => 1 + r() * 9999,
  'exponential, mean 50 ms': (r) => -50 * Math.log(1 - r()),
  'log-normal, median 20 ms, sigma 1.5': (r) => 20 * Math.exp(1.5 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())),
  'integer milliseconds 0..30 (workerd clocks)': (r) => Math.floor(r() * 31),
  'bimodal: 2 ms and 2,000 ms': (r) => (r() < 0.9 ? 2 + r() : 2000 + r() * 100),
};

describe('latency sketch', () => {
  for (const [name, sample] of Object.entries(DISTRIBUTIONS)) {
    it(`answers every quantile within ${RELATIVE_ACCURACY * 100} % on ${name}`, () => {
      const r = random(name.length * 7919);
      const values = Array.from({ length: 50_000 }, () => sample(r));
      const sketch = new LatencySketch();
      for (const v of values) sketch.add(v);
      const sorted = [...values].sort((a, b) => a - b);
      for (const q of QUANTILES) {
        const want = exact(sorted, q);
        const got = sketch.quantile(q)!;
        if (want <= 1e-3) expect(got, `q=${q}`).toBe(0);
        else expect(Math.abs(got - want) / want, `q=${q}: exact ${want}, sketch ${got}`).toBeLessThanOrEqual(RELATIVE_ACCURACY + 1e-9);
      }
    });
  }

  it('merges: sketches of parts add up to the sketch of the whole, through JSON', () => {
    const r = random(42);
    const whole = new LatencySketch();
    const parts = [new LatencySketch(), new LatencySketch(), new LatencySketch()];
    for (let i = 0; i < 30_000; i++) {
      const v = -80 * Math.log(1 - r());
      whole.add(v);
      parts[i % 3]!.add(v);
    }
    const merged = LatencySketch.from(JSON.stringify(parts[0]));
    merged.merge(JSON.parse(JSON.stringify(parts[1])));
    merged.merge(parts[2]!);
    expect(merged.count).toBe(30_000);
    for (const q of QUANTILES) expect(merged.quantile(q)).toBe(whole.quantile(q));
  });

  it('stays small: the size depends on the spread of values, not their number', () => {
    const sketch = new LatencySketch();
    const r = random(7);
    for (let i = 0; i < 200_000; i++) sketch.add(1 + r() * 999); // three decades
    expect(Object.keys(sketch.toJSON().b).length).toBeLessThan(200);
  });

  it('handles the empty sketch, zero latencies and weights', () => {
    expect(percentiles(new LatencySketch())).toEqual({ p50: null, p95: null, p99: null });
    const s = new LatencySketch();
    s.add(0, 98);
    s.add(100, 2);
    expect(s.quantile(0.5)).toBe(0);
    expect(s.quantile(0.98)).toBe(0);
    expect(Math.abs(s.quantile(0.99)! - 100)).toBeLessThanOrEqual(2);
    s.add(Number.NaN);
    s.add(5, -1);
    expect(s.count).toBe(100);
  });
});
