import {
  admitRequest,
  leaseRequests,
  unusedReturned,
  type CredentialLease,
  EMPTY_COUNTS,
  usageOf,
  type CredentialCheck,
  type CredentialCounts,
  type CredentialLimits,
  type CredentialUsage,
} from './credential-windows';

/** Counts are written to storage every this many requests of a credential (and at each new minute). */
const PERSIST_EVERY = 16;
const MAX_CREDENTIALS_IN_MEMORY = 50_000;

/**
 * The per-credential counters of one tenant, inside its TenantLimiter: exact in memory (the object
 * is single-threaded), persisted to its SQLite every few requests so an evicted limiter loses at
 * most a handful of requests per credential (it errs on the side of serving), not its hour and
 * day windows. Writing every request would hold every response for a storage write.
 */
export class CredentialCounter {
  private readonly counts = new Map<string, CredentialCounts>();
  private readonly unsaved = new Map<string, number>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec(
      'CREATE TABLE IF NOT EXISTS credentials (id TEXT PRIMARY KEY, minute_start INTEGER NOT NULL, minute INTEGER NOT NULL, hour_start INTEGER NOT NULL, hour INTEGER NOT NULL, day_start INTEGER NOT NULL, day INTEGER NOT NULL, total INTEGER NOT NULL)',
    );
  }

  /** Count one request of `id` if it fits its limits; otherwise the refusal (nothing counted). */
  admit(id: string, limits: CredentialLimits, now: number): CredentialCheck {
    const before = this.load(id);
    const check = admitRequest(before, limits, now);
    if (!check.ok) return check;
    this.counts.set(id, check.next);
    const unsaved = (this.unsaved.get(id) ?? 0) + 1;
    if (unsaved >= PERSIST_EVERY || check.next.minuteStart !== before.minuteStart) this.save(id, check.next);
    else this.unsaved.set(id, unsaved);
    return check;
  }

  /** Count up to `want` requests of `id` at once (a lease), as many as its windows allow; otherwise the refusal. */
  lease(id: string, limits: CredentialLimits, now: number, want: number): CredentialLease {
    const before = this.load(id);
    const check = leaseRequests(before, limits, now, want);
    if (check.ok) this.save(id, check.next);
    return check;
  }

  /** Give back `n` leased requests of `id` that were granted at `grantedAt` and never used. */
  giveBack(id: string, n: number, grantedAt: number): void {
    this.save(id, unusedReturned(this.load(id), n, grantedAt));
  }

  /** Current counts of each credential (zeros for one never seen). */
  usage(ids: string[], now: number): Record<string, CredentialUsage> {
    const out: Record<string, CredentialUsage> = {};
    for (const id of ids) out[id] = usageOf(this.load(id), now);
    return out;
  }

  /** Forget every credential's counts (the tenant was deleted). */
  clear(): void {
    this.counts.clear();
    this.unsaved.clear();
    this.sql.exec('DELETE FROM credentials');
  }

  private load(id: string): CredentialCounts {
    const cached = this.counts.get(id);
    if (cached) return cached;
    const row = this.sql.exec('SELECT * FROM credentials WHERE id = ?', id).toArray()[0];
    const counts: CredentialCounts = row
      ? {
          minuteStart: Number(row.minute_start),
          minute: Number(row.minute),
          hourStart: Number(row.hour_start),
          hour: Number(row.hour),
          dayStart: Number(row.day_start),
          day: Number(row.day),
          total: Number(row.total),
        }
      : EMPTY_COUNTS;
    if (this.counts.size >= MAX_CREDENTIALS_IN_MEMORY) this.flushAndDrop();
    this.counts.set(id, counts);
    return counts;
  }

  private save(id: string, c: CredentialCounts): void {
    this.counts.set(id, c);
    this.unsaved.delete(id);
    this.sql.exec(
      'INSERT OR REPLACE INTO credentials (id, minute_start, minute, hour_start, hour, day_start, day, total) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      id,
      c.minuteStart,
      c.minute,
      c.hourStart,
      c.hour,
      c.dayStart,
      c.day,
      c.total,
    );
  }

  private flushAndDrop(): void {
    for (const id of this.unsaved.keys()) this.save(id, this.counts.get(id)!);
    this.counts.clear();
  }
}
