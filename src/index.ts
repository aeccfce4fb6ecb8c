import { route } from './router';
import { restError } from './http/responses';

export { NotesServer, EverythingServer } from '../servers/classes';
export { GatewayServer } from './gateway/gateway-server';
export { UpstreamState } from './gateway/upstream-state';

/**
 * Worker entry. Routing lives in `router.ts`; this layer only guarantees that no request ever
 * gets an unstructured 500: an unexpected failure is logged (without headers or body, which may
 * hold tokens) and answered with the REST error shape.
 */
export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    try {
      return await route(request, env, ctx);
    } catch (error) {
      const correlationId = crypto.randomUUID();
      console.error(JSON.stringify({ level: 'error', msg: 'unhandled', correlationId, path: new URL(request.url).pathname, error: String(error) }));
      return restError(500, 'internal_error', `Internal error (correlation id ${correlationId})`);
    }
  },
} satisfies ExportedHandler<Env>;
