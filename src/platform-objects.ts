/** A Durable Object class of the platform itself (not a hosted MCP server). */
export interface PlatformObjectEntry {
  /** Binding in `wrangler.jsonc`. */
  readonly binding: string;
  readonly className: string;
  /** Module (relative to `src/`) that defines the class, for the export line in `src/index.ts`. */
  readonly module: string;
}

/**
 * Durable Object classes the platform itself uses (not hosted MCP servers). Listed so the
 * registry-agreement check knows every binding in wrangler.jsonc belongs to someone, and can say
 * which export line `src/index.ts` needs.
 */
export const PLATFORM_OBJECTS: readonly PlatformObjectEntry[] = [
  { binding: 'AUDIT_OUTBOX', className: 'AuditOutboxObject', module: './audit/audit-outbox-object' },
  { binding: 'AUDIT_STORE', className: 'AuditStore', module: './audit/audit-store-object' },
  { binding: 'TENANT_DATABASE', className: 'TenantDatabase', module: './storage/tenant-database' },
  { binding: 'TENANT_LIMITER', className: 'TenantLimiter', module: './limits/tenant-limiter' },
  { binding: 'REFRESH_GUARD', className: 'RefreshGuard', module: './oauth/refresh-guard' },
  // Gateway (src/gateway): session objects for tenant upstreams, and one state object per upstream.
  { binding: 'GATEWAY_SERVER', className: 'GatewayServer', module: './gateway/gateway-server' },
  { binding: 'UPSTREAM_STATE', className: 'UpstreamState', module: './gateway/upstream-state' },
  // Alerts (src/alerts): one object per tenant evaluating its alert rules and delivering webhooks.
  { binding: 'TENANT_ALERTS', className: 'TenantAlerts', module: './alerts/alerts-object' },
  // Tenant-deployed servers (src/tenant-servers): one session object per MCP session on a deployed module.
  { binding: 'TENANT_MODULE_SERVER', className: 'TenantModuleServer', module: './tenant-servers/tenant-module-server' },
];
