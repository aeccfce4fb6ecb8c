/**
 * Bounds on what a dynamically registered client (RFC 7591) may hold, and the reclaiming of
 * registrations nobody uses. Anyone may register, so without bounds a registration is free storage
 * (a 60 KB `client_name` and 1,000 redirect URIs were stored) and rendered text on the consent page.
 */

export const REGISTRATION_LIMITS = {
  /** Serialized metadata, whole. */
  totalBytes: 8 * 1024,
  clientName: 200,
  redirectUris: 10,
  /** Any other string field (URIs, software id, scope…). */
  string: 2048,
  /** Any other array field (grant types, contacts…). */
  arrayItems: 10,
} as const;

/** A registration that is not used within this time is forgotten (its KV record expires). */
export const UNUSED_REGISTRATION_SECONDS = 24 * 60 * 60;

/**
 * Why this client metadata may not be registered, or null. Used as the provider's
 * `clientRegistrationCallback`, whose refusal is RFC 7591's 400 `invalid_client_metadata`.
 */
export function registrationProblem(metadata: Record<string, unknown>): string | null {
  const size = new TextEncoder().encode(JSON.stringify(metadata)).length;
  if (size > REGISTRATION_LIMITS.totalBytes) return `client metadata must be at most ${REGISTRATION_LIMITS.totalBytes} bytes`;
  const name = metadata.client_name;
  if (typeof name === 'string' && name.length > REGISTRATION_LIMITS.clientName)
    return `client_name must be at most ${REGISTRATION_LIMITS.clientName} characters`;
  const uris = metadata.redirect_uris;
  if (Array.isArray(uris) && uris.length > REGISTRATION_LIMITS.redirectUris) return `at most ${REGISTRATION_LIMITS.redirectUris} redirect_uris`;
  for (const [field, value] of Object.entries(metadata)) {
    const values = Array.isArray(value) ? value : [value];
    if (Array.isArray(value) && field !== 'redirect_uris' && value.length > REGISTRATION_LIMITS.arrayItems)
      return `${field} must have at most ${REGISTRATION_LIMITS.arrayItems} entries`;
    if (values.some((v) => typeof v === 'string' && v.length > REGISTRATION_LIMITS.string))
      return `${field} values must be at most ${REGISTRATION_LIMITS.string} characters`;
  }
  return null;
}

/**
 * After a successful registration, keep the client only until first use: its record expires after
 * UNUSED_REGISTRATION_SECONDS unless a token request succeeds, at which point the provider renews
 * it to the full `clientRegistrationTTL` (its renewal applies once less than half the TTL remains,
 * which a pending record always has). Writes the provider's record (`client:<id>`, with
 * `registrationExpiresAt`, @cloudflare/workers-oauth-provider 1.2.x); `client-registration.test.ts`
 * fails if that changes.
 */
export async function holdUntilFirstUse(env: Env, response: Response, now = Math.floor(Date.now() / 1000)): Promise<Response> {
  if (response.status !== 201) return response;
  const clientId = (
    (await response
      .clone()
      .json()
      .catch(() => null)) as { client_id?: unknown } | null
  )?.client_id;
  if (typeof clientId !== 'string') return response;
  const record = await env.OAUTH_KV.get<Record<string, unknown>>(`client:${clientId}`, 'json');
  if (!record || typeof record.registrationExpiresAt !== 'number') return response;
  await env.OAUTH_KV.put(`client:${clientId}`, JSON.stringify({ ...record, registrationExpiresAt: now + UNUSED_REGISTRATION_SECONDS }), {
    expirationTtl: UNUSED_REGISTRATION_SECONDS,
  });
  return response;
}
