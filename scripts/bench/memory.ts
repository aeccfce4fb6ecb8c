/**
 * Peak resident memory of the server processes, sampled from /proc while the benchmark runs:
 * for a `wrangler dev` target the workerd processes in its process group (wrangler's own Node
 * process is tooling, not the server), for the peer its Node process. Linux only; elsewhere the
 * figures are reported as unavailable.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface MemoryTarget {
  variant: string;
  /** Process group (wrangler is spawned detached, so its pid is the group id) or a single pid. */
  pid: number;
  /** Only count processes with this command name (e.g. `workerd`); all when omitted. */
  comm?: string;
  group: boolean;
}

function stat(pid: string): { comm: string; pgrp: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const fields = text.slice(close + 2).split(' ');
    return { comm, pgrp: Number(fields[2]) };
  } catch {
    return null;
  }
}

function rssBytes(pid: string | number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Current RSS of a target, in bytes. */
export function currentRss(t: MemoryTarget): number {
  if (!t.group) return rssBytes(t.pid);
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    const s = stat(pid);
    if (s && s.pgrp === t.pid && (!t.comm || s.comm === t.comm)) total += rssBytes(pid);
  }
  return total;
}

/** Samples every target every `intervalMs` until stopped; `peaks()` gives the highest seen. */
export class MemorySampler {
  private readonly peak = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private readonly targets: MemoryTarget[];
  readonly available = process.platform === 'linux';

  constructor(targets: MemoryTarget[]) {
    this.targets = targets;
  }

  start(intervalMs = 250): void {
    if (!this.available) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    for (const t of this.targets) this.peak.set(t.variant, Math.max(this.peak.get(t.variant) ?? 0, currentRss(t)));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.available) this.sample();
  }

  /** Peak RSS per variant in bytes (null when /proc is unavailable). */
  peaks(): Map<string, number | null> {
    return new Map(this.targets.map((t) => [t.variant, this.available ? (this.peak.get(t.variant) ?? 0) : null]));
  }
}
