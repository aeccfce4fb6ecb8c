/**
 * Per-credential request counting (an API key, or a signed-in user) over fixed minute, hour and
 * day windows aligned to UTC, as pure functions over a small record so the arithmetic is unit
 * tested on its own and the TenantLimiter that stores the records stays thin.
 */

export const WINDOWS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
export type WindowName = keyof typeof WINDOWS;

/** A credential's counts: the start of each current window and the requests in it, plus the all-time total. */
export interface CredentialCounts {
  minuteStart: number;
  minute: number;
  hourStart: number;
  hour: number;
  dayStart: number;
  day: number;
  total: number;
}

/** The limits that apply to one credential (already resolved: key override, else tenant default). */
export interface CredentialLimits {
  perMinute: number;
  perHour: number;
  perDay: number;
}

export const EMPTY_COUNTS: CredentialCounts = { minuteStart: 0, minute: 0, hourStart: 0, hour: 0, dayStart: 0, day: 0, total: 0 };

const startOf = (now: number, size: number) => now - (now % size);

/** The counts as seen at `now`: windows that have ended read as zero. */
export function current(c: CredentialCounts, now: number): CredentialCounts {
  const minuteStart = startOf(now, WINDOWS.minute);
  const hourStart = startOf(now, WINDOWS.hour);
  const dayStart = startOf(now, WINDOWS.day);
  return {
    minuteStart,
    minute: c.minuteStart === minuteStart ? c.minute : 0,
    hourStart,
    hour: c.hourStart === hourStart ? c.hour : 0,
    dayStart,
    day: c.dayStart === dayStart ? c.day : 0,
    total: c.total,
  };
}

export type CredentialCheck = { ok: true; next: CredentialCounts } | { ok: false; window: WindowName; limit: number; retryAfter: number };

/**
 * Whether one more request fits at `now`. When it does, `next` holds the counts with it included;
 * when it does not, the refusal names the window that refuses longest and the whole seconds until
 * that window ends (the truthful `Retry-After`: a request then is admitted by every window).
 */
export function admitRequest(c: CredentialCounts, limits: CredentialLimits, now: number): CredentialCheck {
  const seen = current(c, now);
  let refusal: { window: WindowName; limit: number; retryAfter: number } | undefined;
  const check = (window: WindowName, count: number, limit: number, start: number) => {
    if (count < limit) return;
    const retryAfter = Math.max(1, Math.ceil((start + WINDOWS[window] - now) / 1000));
    if (!refusal || retryAfter > refusal.retryAfter) refusal = { window, limit, retryAfter };
  };
  check('minute', seen.minute, limits.perMinute, seen.minuteStart);
  check('hour', seen.hour, limits.perHour, seen.hourStart);
  check('day', seen.day, limits.perDay, seen.dayStart);
  if (refusal) return { ok: false, ...refusal };
  return { ok: true, next: { ...seen, minute: seen.minute + 1, hour: seen.hour + 1, day: seen.day + 1, total: seen.total + 1 } };
}

/** Request counts as the admin API and dashboard show them. */
export interface CredentialUsage {
  minute: number;
  hour: number;
  day: number;
  total: number;
}

export function usageOf(c: CredentialCounts | undefined, now: number): CredentialUsage {
  const seen = current(c ?? EMPTY_COUNTS, now);
  return { minute: seen.minute, hour: seen.hour, day: seen.day, total: seen.total };
}

export type CredentialLease = { ok: true; granted: number; next: CredentialCounts } | { ok: false; window: WindowName; limit: number; retryAfter: number };

/**
 * Up to `want` requests at once (a lease, see lease-budget.ts): refused exactly as `admitRequest`
 * when a window is full, otherwise as many as every window still has room for (at least one),
 * all counted now.
 */
export function leaseRequests(c: CredentialCounts, limits: CredentialLimits, now: number, want: number): CredentialLease {
  const one = admitRequest(c, limits, now);
  if (!one.ok) return one;
  const seen = current(c, now);
  const granted = Math.max(1, Math.min(want, limits.perMinute - seen.minute, limits.perHour - seen.hour, limits.perDay - seen.day));
  return {
    ok: true,
    granted,
    next: { ...seen, minute: seen.minute + granted, hour: seen.hour + granted, day: seen.day + granted, total: seen.total + granted },
  };
}

/**
 * The counts after `n` leased requests granted at `grantedAt` went unused: each window that is
 * still the one they were counted in gets them back (never below zero), and so does the total.
 */
export function unusedReturned(c: CredentialCounts, n: number, grantedAt: number): CredentialCounts {
  const back = (start: number, size: number, count: number) => (start === startOf(grantedAt, size) ? Math.max(0, count - n) : count);
  return {
    ...c,
    minute: back(c.minuteStart, WINDOWS.minute, c.minute),
    hour: back(c.hourStart, WINDOWS.hour, c.hour),
    day: back(c.dayStart, WINDOWS.day, c.day),
    total: Math.max(0, c.total - n),
  };
}
