-- Upstreams (remote MCP servers behind the gateway) a tenant may register. NULL means the platform
-- default (src/limits/tenant-limits.ts: 20); the operator sets it per tenant (limits.maxUpstreams).
ALTER TABLE tenants ADD COLUMN max_upstreams INTEGER CHECK (max_upstreams IS NULL OR max_upstreams > 0);
