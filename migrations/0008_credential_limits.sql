-- Per-credential request limits (issue 13, "limits that fit real use"), enforced exactly by the
-- TenantLimiter Durable Object inside the gate's one admit call (src/limits/credential-windows.ts).
-- Tenant columns: defaults for the tenant's API keys and signed-in users; NULL = the platform
-- default (src/limits/tenant-limits.ts: 600 a minute, 20,000 an hour, 200,000 a UTC day).
ALTER TABLE tenants ADD COLUMN credential_per_minute INTEGER CHECK (credential_per_minute IS NULL OR credential_per_minute > 0);
ALTER TABLE tenants ADD COLUMN credential_per_hour INTEGER CHECK (credential_per_hour IS NULL OR credential_per_hour > 0);
ALTER TABLE tenants ADD COLUMN credential_per_day INTEGER CHECK (credential_per_day IS NULL OR credential_per_day > 0);
-- Key columns: the key's own limits; NULL = its tenant's default.
ALTER TABLE api_keys ADD COLUMN limit_per_minute INTEGER CHECK (limit_per_minute IS NULL OR limit_per_minute > 0);
ALTER TABLE api_keys ADD COLUMN limit_per_hour INTEGER CHECK (limit_per_hour IS NULL OR limit_per_hour > 0);
ALTER TABLE api_keys ADD COLUMN limit_per_day INTEGER CHECK (limit_per_day IS NULL OR limit_per_day > 0);
