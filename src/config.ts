/**
 * Deployment configuration read from the Worker environment. The public origin fixes every
 * OAuth identifier (issuer, resources), so it comes from config, never from the Host header.
 */

/** The canonical origin clients use, e.g. `https://mcp.example.com` or `http://localhost:8787`. */
export function publicOrigin(env: Env): string {
  const configured = env.SMCP_PUBLIC_URL;
  if (configured !== lastConfigured) {
    lastOrigin = new URL(configured).origin; // throws for a malformed setting, as before
    lastConfigured = configured;
  }
  return lastOrigin;
}

/** The last setting parsed (several MCP routes ask on every request; the URL parse showed in the stateless lane's profile). */
let lastConfigured: string | undefined;
let lastOrigin = '';

/** Minimum length of `SMCP_SECRET`: it keys session-id and cookie MACs. */
export const MIN_SECRET_LENGTH = 32;

/** The platform HMAC secret, or `undefined` when it is missing or too short (the platform then refuses to serve). */
export function platformSecret(env: Env): string | undefined {
  const secret = (env as { SMCP_SECRET?: string }).SMCP_SECRET;
  return secret && secret.length >= MIN_SECRET_LENGTH ? secret : undefined;
}

/** The operator token, or `undefined` when the admin API is switched off. */
export function adminToken(env: Env): string | undefined {
  const token = (env as { SMCP_ADMIN_TOKEN?: string }).SMCP_ADMIN_TOKEN;
  return token && token.length > 0 ? token : undefined;
}

/** Default idle time after which a session's Durable Object storage is deleted. */
export const DEFAULT_SESSION_IDLE_MINUTES = 30;

/**
 * Idle time of an MCP session in milliseconds, from `SMCP_SESSION_IDLE_MINUTES` (fractions allowed,
 * so tests can use seconds); anything missing or not a positive number means the default.
 */
export function sessionIdleMs(env: Env): number {
  const minutes = Number((env as { SMCP_SESSION_IDLE_MINUTES?: string }).SMCP_SESSION_IDLE_MINUTES);
  return Math.round((Number.isFinite(minutes) && minutes > 0 ? minutes : DEFAULT_SESSION_IDLE_MINUTES) * 60_000);
}

/** Browser origins allowed on MCP routes: the public origin plus `SMCP_ALLOWED_ORIGINS` (comma-separated). */
export function allowedOrigins(env: Env): readonly string[] {
  return parsedList(env, 'SMCP_ALLOWED_ORIGINS', origins);
}

/** Host headers MCP routes answer: the public origin's host plus `SMCP_ALLOWED_HOSTS` (comma-separated, lower-cased). */
export function allowedHosts(env: Env): readonly string[] {
  return parsedList(env, 'SMCP_ALLOWED_HOSTS', hosts);
}

/** One parsed list setting, kept until the public origin or the setting changes (both are read on every MCP request). */
interface ParsedList {
  origin?: string;
  raw?: string;
  list: readonly string[];
}
const origins: ParsedList = { list: [] };
const hosts: ParsedList = { list: [] };

function parsedList(env: Env, name: 'SMCP_ALLOWED_ORIGINS' | 'SMCP_ALLOWED_HOSTS', cache: ParsedList): readonly string[] {
  const origin = publicOrigin(env);
  const raw = (env as Partial<Record<typeof name, string>>)[name] ?? '';
  if (cache.origin !== origin || cache.raw !== raw) {
    const extra = raw
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
    cache.list = Object.freeze(name === 'SMCP_ALLOWED_HOSTS' ? [new URL(origin).host, ...extra].map((h) => h.toLowerCase()) : [origin, ...extra]);
    cache.origin = origin;
    cache.raw = raw;
  }
  return cache.list;
}
