import { fetchWithTimeout } from '../http/fetch-with-timeout';
import { privateUpstreamsAllowed, upstreamUrlProblem } from '../gateway/upstream-url';
import { SIGNATURE_HEADER, signatureHeader } from './alert-signature';

/**
 * One webhook POST. Webhook URLs follow the gateway's outbound rules (src/gateway/upstream-url.ts,
 * checked again before every attempt, since the deployment's rules may have changed): public
 * HTTPS only in production. Redirects are not followed (a redirect could lead to a private host).
 */
export const DELIVERY_TIMEOUT_MS = 10_000;
export const MAX_ATTEMPTS = 6;

/** Default first retry delay; later ones triple (10 s, 30 s, 90 s, 4.5 min, 13.5 min). Tests shorten it with `SMCP_ALERT_RETRY_BASE_MS`. */
export const DEFAULT_RETRY_BASE_MS = 10_000;

export function retryDelayMs(env: Env, attempt: number): number {
  const configured = Number((env as { SMCP_ALERT_RETRY_BASE_MS?: string }).SMCP_ALERT_RETRY_BASE_MS);
  const base = Number.isFinite(configured) && configured >= 10 ? configured : DEFAULT_RETRY_BASE_MS;
  return Math.min(base * 3 ** (attempt - 1), 3_600_000);
}

export type DeliveryOutcome = { ok: true; status: number } | { ok: false; error: string; retry: boolean };

export async function deliver(env: Env, url: string, secret: string, body: string, now = Date.now()): Promise<DeliveryOutcome> {
  const problem = upstreamUrlProblem(url, privateUpstreamsAllowed(env));
  if (problem) return { ok: false, error: `webhook URL refused: ${problem}`, retry: false };
  try {
    const signature = await signatureHeader(secret, Math.floor(now / 1000), body);
    const res = await fetchWithTimeout(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature, 'user-agent': 'SMCP-Alerts/1' },
        body,
        redirect: 'manual',
      },
      DELIVERY_TIMEOUT_MS,
    );
    await res.body?.cancel();
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    return { ok: false, error: `HTTP ${res.status}`, retry: true };
  } catch (error) {
    return { ok: false, error: String(error).slice(0, 200), retry: true };
  }
}
