import { route } from './router';
import { restError } from './http/responses';
import { maintainAudit } from './audit/retention';
import { purgeRetiredTenants } from './admin/tenant-purge';
import { CORRELATION_HEADER, requestContext, withRequestContext } from './observability/request-context';
import { log } from './observability/log';

// Every hosted server class, by name (wrangler types reads these to type the bindings), and the
// platform's own Durable Objects (src/platform-objects.ts). `npm run new-server` adds to the first line.
export { NotesServer, EverythingServer, StorageServer } from '../servers/classes';
export { GatewayServer } from './gateway/gateway-server';
export { UpstreamState } from './gateway/upstream-state';
export { TenantAlerts } from './alerts/alerts-object';
export { AuditOutboxObject } from './audit/audit-outbox-object';
export { AuditStore } from './audit/audit-store-object';
export { TenantDatabase } from './storage/tenant-database';
export { TenantLimiter } from './limits/tenant-limiter';
export { RefreshGuard } from './oauth/refresh-guard';
// Tenant-deployed servers: the session class, and the capability stubs their sandboxes get (src/tenant-servers).
export { TenantModuleServer } from './tenant-servers/tenant-module-server';
export { TenantKvCapability, TenantFilesCapability, EgressGate } from './tenant-servers/capabilities';

/**
 * Worker entry. Routing lives in `router.ts`; this layer gives every request a correlation id
 * (returned as `X-Correlation-Id`, carried by logs and audit events) and guarantees that no request
 * ever gets an unstructured 500: an unexpected failure is logged (without headers or body, which
 * may hold tokens) and answered with the REST error shape.
 */
export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    return withRequestContext(request, env, ctx, async () => {
      const correlationId = requestContext()!.correlationId;
      let response: Response;
      try {
        response = await route(request, env, ctx);
      } catch (error) {
        log('error', 'unhandled', { path: new URL(request.url).pathname, error: String(error).slice(0, 300) });
        response = restError(500, 'internal_error', `Internal error (correlation id ${correlationId})`);
      }
      if (response.webSocket) return response;
      const out = new Response(response.body, response);
      out.headers.set(CORRELATION_HEADER, correlationId);
      return out;
    });
  },

  /** Daily: export finished audit days to R2, delete events past each tenant's retention, finish purging deleted tenants. */
  async scheduled(_controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    ctx.waitUntil(maintainAudit(env).then((report) => log('info', 'audit.maintenance', { ...report })));
    ctx.waitUntil(purgeRetiredTenants(env).then((result) => log('info', 'tenant.purge', result)));
  },
} satisfies ExportedHandler<Env>;
