import { SERVERS } from '../../servers/registry';
import { gatewayHealth } from '../gateway/gateway-health';
import { json } from '../http/responses';
import { buildInfo } from '../observability/build-info';

/** A dependency check gives up after this long and reports the dependency as down. */
const CHECK_TIMEOUT_MS = 2000;

interface Check {
  status: 'ok' | 'down';
  latencyMs: number;
  error?: string;
}

async function timed(probe: () => Promise<unknown>): Promise<Check> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([probe(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS)))]);
    return { status: 'ok', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    // Only the error's class of failure is reported: /health is public and must not leak details.
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: String(error).includes('timed out') ? 'timeout' : 'error' };
  } finally {
    // A probe that answered must not leave its timer pending until the isolate's next event.
    clearTimeout(timer);
  }
}

/**
 * `GET /health`: each dependency (KV, D1, Durable Objects) probed with its latency, and an overall
 * status (`ok`, or `degraded` with HTTP 503 when any is down), and what is serving (`build` and
 * `version`, src/observability/build-info.ts). Probes touch only platform-owned keys and objects, never tenant
 * data, so the endpoint can stay public for load balancers.
 */
export async function healthResponse(env: Env): Promise<Response> {
  const [kv, d1, durableObjects, gateway] = await Promise.all([
    timed(() => env.OAUTH_KV.get('smcp:health-probe')),
    timed(() => env.DB.prepare('SELECT 1').first()),
    timed(() => env.AUDIT_OUTBOX.get(env.AUDIT_OUTBOX.idFromName('_health')).pending()),
    gatewayHealth(env),
  ]);
  const dependencies = { kv, d1, durableObjects };
  const healthy = Object.values(dependencies).every((c) => c.status === 'ok');
  return json(
    { status: healthy ? 'ok' : 'degraded', ...buildInfo(env), dependencies, servers: SERVERS.map((s) => s.name), gateway, time: new Date().toISOString() },
    healthy ? 200 : 503,
  );
}
