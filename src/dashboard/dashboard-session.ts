import { z } from 'zod';
import { readCookie } from '../auth/cookies';
import { base64url, randomHex, sha256, toHex } from '../crypto/secrets';

/**
 * Dashboard sessions: a random 32-byte token in a `__Host-` cookie (Secure, HttpOnly,
 * SameSite=Strict), and a server-side record in KV under `dashboard:session:<SHA-256 of the
 * token>`, so the token itself is never stored, sign-out deletes the record, and KV's TTL ends it
 * at expiry. The record carries the session's CSRF token (synchronizer pattern).
 */

export const SESSION_COOKIE = '__Host-smcp-dash';
/** Absolute lifetime of a dashboard session. */
export const SESSION_TTL_SECONDS = 8 * 60 * 60;

const SessionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('operator'), csrf: z.string(), expiresAt: z.number() }),
  z.object({ kind: z.literal('user'), tenantId: z.string(), userId: z.string(), email: z.string(), csrf: z.string(), expiresAt: z.number() }),
]);
export type DashboardSession = z.infer<typeof SessionSchema>;
type NewSession = { kind: 'operator' } | { kind: 'user'; tenantId: string; userId: string; email: string };

async function recordKey(token: string): Promise<string> {
  return `dashboard:session:${toHex(await sha256(`smcp-dashboard-session\n${token}`))}`;
}

/** A Set-Cookie value for a dashboard cookie (host-only, HttpOnly, Secure, SameSite=Strict; Max-Age 0 clears it). */
export function dashboardCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=${maxAgeSeconds}`;
}

/** Start a session; returns the Set-Cookie value that carries its token. */
export async function createSession(env: Env, data: NewSession): Promise<string> {
  const token = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const session: DashboardSession = { ...data, csrf: randomHex(32), expiresAt: Date.now() + SESSION_TTL_SECONDS * 1000 };
  await env.OAUTH_KV.put(await recordKey(token), JSON.stringify(session), { expirationTtl: SESSION_TTL_SECONDS });
  return dashboardCookie(SESSION_COOKIE, token, SESSION_TTL_SECONDS);
}

/** The session the request's cookie names, or null when there is none, it expired or it was signed out. */
export async function loadSession(env: Env, request: Request): Promise<DashboardSession | null> {
  const token = readCookie(request, SESSION_COOKIE);
  if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const parsed = SessionSchema.safeParse(await env.OAUTH_KV.get(await recordKey(token), 'json'));
  if (!parsed.success || parsed.data.expiresAt <= Date.now()) return null;
  return parsed.data;
}

/** End the request's session (server side) and return the Set-Cookie value that clears the cookie. */
export async function destroySession(env: Env, request: Request): Promise<string> {
  const token = readCookie(request, SESSION_COOKIE);
  if (token && /^[A-Za-z0-9_-]{43}$/.test(token)) await env.OAUTH_KV.delete(await recordKey(token));
  return dashboardCookie(SESSION_COOKIE, '', 0);
}
