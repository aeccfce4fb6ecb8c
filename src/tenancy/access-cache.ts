import { sharedAnswer, waitFor } from '../isolate/shared-answer';

/**
 * Per-isolate cache of the MCP routes' credential lookups (an API key with its tenant's state, an
 * OAuth grant's user with its tenant's state), so a busy credential costs one D1 query per second
 * per isolate instead of one per request. The profile of the 2026-07-28 lane put the lookup (SHA-256s,
 * the D1 round trip and its serialisation) at about a third of a call's CPU.
 *
 * How stale an answer may be (docs/security.md, "Credential lookups on MCP routes"):
 * - a change made through the platform (admin API, dashboard, CLI: every write in src/tenancy that
 *   can take access away) calls `forgetAccess()`, so the isolate that made it serves the very next
 *   request from D1. A lookup that was in flight while the change was written is not kept (the
 *   epoch check below), so it cannot put the old answer back;
 * - every other isolate (and any change written to D1 outside the platform) is seen at most
 *   ACCESS_CACHE_TTL_MS after the isolate last read the credential.
 *
 * Only accepted credentials are kept: unknown, revoked and expired keys are read from D1 by every
 * request, or by a request it waited for (below).
 * Only the MCP routes use it; the admin API, sign-in, consent and the dashboard read D1 exactly.
 *
 * Concurrent lookups of one credential in one isolate share one read (`Flight`): when the answer
 * has expired and a burst arrives (every session of a client resuming at once), the first request
 * reads D1 and the others wait for its answer, instead of a hundred identical queries queueing on
 * the database (measured: calls of such a burst waited 0.8 to 1 s, docs/performance.md).
 */

/** Longest an isolate serves a credential lookup it did not see change (another isolate's change). */
export const ACCESS_CACHE_TTL_MS = 1_000;

/** Entries kept per isolate at most; beyond it, expired ones are dropped first, then all. */
const MAX_ENTRIES = 10_000;

interface Entry {
  value: unknown;
  /** Local clock: served strictly before this. */
  until: number;
}

/**
 * How long a request waits for another request's read of the same credential before reading D1
 * itself. A read takes milliseconds; one still unsettled by then (a database that slow, or a read
 * whose request was cancelled, which never settles) is given up by the requests waiting on it.
 */
export const FLIGHT_WAIT_MS = 1_000;

/** A read in progress; followers wait on its answer, never on the read itself (src/isolate/shared-answer.ts). */
interface Flight {
  /** Joined only under the epoch it started in: a change written since must be read afresh. */
  epoch: number;
  /** Local clock: not joined from this time on, and no follower waits past it. */
  until: number;
  answer: Promise<unknown>;
}

const entries = new Map<string, Entry>();
const flights = new Map<string, Flight>();
/** Bumped by every change: a lookup that started under an older epoch is not kept. */
let epoch = 0;

/**
 * The cached answer for `key`, or the answer of a read of it already in progress in this isolate
 * (refusals too: they are as fresh as this request's own read would be), or `load()`'s. Kept for
 * ACCESS_CACHE_TTL_MS when `keep` says the answer may be cached (an accepted credential) and no
 * change was written while it loaded. Answers are shared by concurrent requests: they are frozen so
 * no caller can alter another's.
 */
export async function cachedAccess<T>(key: string, load: () => Promise<T>, keep: (value: T) => boolean, now: () => number = Date.now): Promise<T> {
  const hit = entries.get(key);
  if (hit && now() < hit.until) return hit.value as T;
  const flight = flights.get(key);
  if (flight && flight.epoch === epoch && now() < flight.until) {
    const shared = await waitFor(flight.answer, flight.until - now());
    if (shared.settled) return shared.value as T;
  }
  return read(key, load, keep, now);
}

/** `load()` as this isolate's read of `key`, which concurrent requests may join. */
async function read<T>(key: string, load: () => Promise<T>, keep: (value: T) => boolean, now: () => number): Promise<T> {
  const shared = sharedAnswer<unknown>();
  const flight: Flight = { epoch, until: now() + FLIGHT_WAIT_MS, answer: shared.answer };
  if (flights.size >= MAX_ENTRIES) flights.clear(); // only reads of cancelled requests linger
  flights.set(key, flight);
  try {
    const value = deepFreeze(await load());
    shared.resolve(value);
    if (flight.epoch === epoch && keep(value)) store(key, value, now());
    return value;
  } catch (error) {
    shared.reject(error);
    throw error;
  } finally {
    if (flights.get(key) === flight) flights.delete(key);
  }
}

/**
 * A change to tenants, users or keys was written (revocation, rotation, role, status, servers,
 * limits, deletion): forget every cached lookup in this isolate, and keep no lookup that was in
 * flight. Call it after the write completed.
 */
export function forgetAccess(): void {
  epoch++;
  entries.clear();
  flights.clear();
}

/** `write`, then `forgetAccess()` once it settled (also when it failed: it may have been applied). */
export async function changingAccess<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } finally {
    forgetAccess();
  }
}

function store(key: string, value: unknown, at: number): void {
  if (entries.size >= MAX_ENTRIES) {
    for (const [k, e] of entries) if (e.until <= at) entries.delete(k);
    if (entries.size >= MAX_ENTRIES) entries.clear();
  }
  entries.set(key, { value, until: at + ACCESS_CACHE_TTL_MS });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
