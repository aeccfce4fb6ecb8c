/** Latency bookkeeping for the benchmark: samples in milliseconds, nearest-rank percentiles. */
export interface PhaseResult {
  variant: string;
  phase: string;
  /** Completed operations per second over the phase's wall time. */
  throughput: number;
  p50: number | null;
  p99: number | null;
  ops: number;
  errors: number;
  /** A few distinct error messages, for diagnosis. */
  errorSamples: string[];
  /** Throughput of each alternating slice, in round order (warm-up or drift shows here). */
  perRound?: number[];
  /** CPU time of the variant's server processes per completed operation, in ms (see `interleaved` in workloads.ts). */
  cpuMsPerOp?: number | null;
}

export class Recorder {
  readonly samples: number[] = [];
  errors = 0;
  readonly errorSamples = new Set<string>();

  ok(ms: number): void {
    this.samples.push(ms);
  }

  fail(message: string): void {
    this.errors++;
    if (this.errorSamples.size < 3) this.errorSamples.add(message.slice(0, 160));
  }

  result(variant: string, phase: string, wallMs: number): PhaseResult {
    const sorted = [...this.samples].sort((a, b) => a - b);
    return {
      variant,
      phase,
      throughput: wallMs > 0 ? (sorted.length / wallMs) * 1000 : 0,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      ops: sorted.length,
      errors: this.errors,
      errorSamples: [...this.errorSamples],
    };
  }
}

/** Nearest-rank percentile of an ascending array; null when empty. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** a / b, or null when either is missing or b is zero. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a == null || b == null || b === 0 ? null : a / b;
}
