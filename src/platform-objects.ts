/**
 * Durable Object classes the platform itself uses (not hosted MCP servers). Listed so the
 * registry-agreement check knows every binding in wrangler.jsonc belongs to someone.
 */
export const PLATFORM_OBJECTS = [
  { binding: 'AUDIT_OUTBOX', className: 'AuditOutboxObject' },
  // Gateway (src/gateway): session objects for tenant upstreams, and one state object per upstream.
  { binding: 'GATEWAY_SERVER', className: 'GatewayServer' },
  { binding: 'UPSTREAM_STATE', className: 'UpstreamState' },
] as const;
