/**
 * Peak resident memory and CPU time of the server processes, read from /proc while the benchmark runs:
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

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ: 100 on every Linux build in use). */
const TICKS_PER_SECOND = 100;

function stat(pid: string | number): { comm: string; pgrp: number; cpuTicks: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const fields = text.slice(close + 2).split(' ');
    // Fields 3 (pgrp), 14 (utime) and 15 (stime) of proc(5), counted from `state` as field 3 - 2.
    return { comm, pgrp: Number(fields[2]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
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

/** The target's server processes: its pid alone, or the members of its process group (with the wanted command name). */
function processesOf(t: MemoryTarget): string[] {
  if (!t.group) return [String(t.pid)];
  return readdirSync('/proc').filter((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    const s = stat(pid);
    return !!s && s.pgrp === t.pid && (!t.comm || s.comm === t.comm);
  });
}

/** Current RSS of a target, in bytes. */
export function currentRss(t: MemoryTarget): number {
  return processesOf(t).reduce((total, pid) => total + rssBytes(pid), 0);
}

/**
 * CPU time (user + system, every thread) the target's server processes have used so far, in
 * milliseconds, or null off Linux. Read before and after a phase, it says what the phase cost the
 * server wherever that work landed in time: work a request leaves for later (an audit delivery,
 * a store's ingest) counts against its own variant even when it runs during another's round.
 */
export function cpuMs(t: MemoryTarget): number | null {
  if (process.platform !== 'linux') return null;
  return (processesOf(t).reduce((total, pid) => total + (stat(pid)?.cpuTicks ?? 0), 0) * 1000) / TICKS_PER_SECOND;
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
