import { route } from './router';
import { restError } from './http/responses';

// Every hosted server class, by name (wrangler types reads these to type the bindings), and the
// platform's own Durable Objects. `npm run new-server` adds to the first line.
export { NotesServer, EverythingServer, StorageServer } from '../servers/classes';
export { TenantDatabase } from './storage/tenant-database';

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
