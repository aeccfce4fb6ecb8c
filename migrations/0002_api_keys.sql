-- API keys: smcp_<tenantId>_<secret>; only the SHA-256 of the secret is stored.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'read-only')),
  secret_hash TEXT NOT NULL UNIQUE,          -- hex SHA-256 of the 32-byte secret
  created_at INTEGER NOT NULL,
  expires_at INTEGER,                        -- ms since epoch; NULL = no expiry
  last_used_at INTEGER,
  revoked_at INTEGER,
  replaced_by TEXT                           -- id of the key that rotated this one out
);

CREATE INDEX api_keys_tenant ON api_keys (tenant_id);
