-- Per-tenant limits, enforced exactly by the TenantLimiter Durable Object (src/limits/).
-- NULL means the platform default (src/limits/tenant-limits.ts): 1000 requests per minute,
-- 100 concurrent sessions per tenant, 20 per user or API key.
ALTER TABLE tenants ADD COLUMN requests_per_minute INTEGER CHECK (requests_per_minute IS NULL OR requests_per_minute > 0);
ALTER TABLE tenants ADD COLUMN max_sessions INTEGER CHECK (max_sessions IS NULL OR max_sessions > 0);
ALTER TABLE tenants ADD COLUMN max_sessions_per_user INTEGER CHECK (max_sessions_per_user IS NULL OR max_sessions_per_user > 0);
