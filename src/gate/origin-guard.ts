import { publicOrigin } from '../config';
import { rpcError, RpcCode } from '../http/responses';
import { logDenial } from '../observability/log';

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((v) => v.trim()).filter(Boolean);
}

/**
 * DNS-rebinding protection for MCP routes: the Host must be the public origin's host (or one of
 * `SMCP_ALLOWED_HOSTS`), and a browser's Origin, when sent, must be the public origin (or one of
 * `SMCP_ALLOWED_ORIGINS`). Runs before authentication, so a rebound page learns nothing.
 * Returns the refusal, or null to go on.
 */
export function refuseForeignOrigin(request: Request, env: Env): Response | null {
  const origin = publicOrigin(env);
  const vars = env as { SMCP_ALLOWED_HOSTS?: string; SMCP_ALLOWED_ORIGINS?: string };
  const host = (request.headers.get('host') ?? new URL(request.url).host).toLowerCase();
  if (![new URL(origin).host, ...list(vars.SMCP_ALLOWED_HOSTS)].includes(host)) {
    logDenial('host not allowed', { host, path: new URL(request.url).pathname });
    return rpcError(403, RpcCode.Forbidden, `Forbidden: host "${host}" is not served here`);
  }
  const from = request.headers.get('origin');
  if (from !== null && ![origin, ...list(vars.SMCP_ALLOWED_ORIGINS)].includes(from)) {
    logDenial('origin not allowed', { origin: from, path: new URL(request.url).pathname });
    return rpcError(403, RpcCode.Forbidden, 'Forbidden: requests from this Origin are not allowed');
  }
  return null;
}
