/**
 * Deployment configuration read from the Worker environment. The public origin fixes every
 * OAuth identifier (issuer, resources), so it comes from config, never from the Host header.
 */

/** The canonical origin clients use, e.g. `https://mcp.example.com` or `http://localhost:8787`. */
export function publicOrigin(env: Env): string {
  return new URL(env.SMCP_PUBLIC_URL).origin;
}

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
