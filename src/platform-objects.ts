/**
 * Durable Object classes the platform itself uses (not hosted MCP servers). Listed so the
 * registry-agreement check knows every binding in wrangler.jsonc belongs to someone.
 */
export const PLATFORM_OBJECTS = [
  { binding: 'AUDIT_OUTBOX', className: 'AuditOutboxObject' },
] as const;
