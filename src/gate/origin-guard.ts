import { allowedHosts, allowedOrigins } from '../config';
import { rpcError, RpcCode } from '../http/responses';
import { recordDenial } from '../audit/record';

/**
 * DNS-rebinding protection for MCP routes: the Host must be the public origin's host (or one of
 * `SMCP_ALLOWED_HOSTS`), and a browser's Origin, when sent, must be the public origin (or one of
 * `SMCP_ALLOWED_ORIGINS`). Runs before authentication (and before CORS preflights are answered),
 * so a rebound or foreign page learns nothing. Returns the refusal with its reason, or null to go on.
 */
export function refuseForeignOrigin(request: Request, env: Env): { response: Response; reason: string } | null {
  const host = (request.headers.get('host') ?? new URL(request.url).host).toLowerCase();
  if (!allowedHosts(env).includes(host)) {
    recordDenial('host not allowed', { host, path: new URL(request.url).pathname });
    return { reason: 'host not allowed', response: rpcError(403, RpcCode.Forbidden, `Forbidden: host "${host}" is not served here`) };
  }
  const from = request.headers.get('origin');
  if (from !== null && !allowedOrigins(env).includes(from)) {
    recordDenial('origin not allowed', { origin: from, path: new URL(request.url).pathname });
    return { reason: 'origin not allowed', response: rpcError(403, RpcCode.Forbidden, 'Forbidden: requests from this Origin are not allowed') };
  }
  return null;
}
