-- Gateway: upstream MCP servers a tenant registers and the platform exposes at /servers/<name>/mcp.
CREATE TABLE upstreams (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,                          -- URL segment, never a hosted server's name
  url TEXT NOT NULL,
  transport TEXT NOT NULL CHECK (transport IN ('streamable-http', 'sse')),
  credential_kind TEXT NOT NULL DEFAULT 'none' CHECK (credential_kind IN ('none', 'bearer', 'header', 'oauth-client-credentials')),
  credentials TEXT,                            -- sealed JSON (src/crypto/sealed-secrets.ts), bound to upstream:<tenant>:<name>
  policy TEXT NOT NULL DEFAULT '{}',           -- JSON: allow, deny, prefix, renames, minRoles
  settings TEXT NOT NULL DEFAULT '{}',         -- JSON: timeouts, retries, breaker, cache and health intervals, size limit
  enabled INTEGER NOT NULL DEFAULT 1,
  breaker_state TEXT NOT NULL DEFAULT 'closed' CHECK (breaker_state IN ('closed', 'open', 'half-open')),
  version INTEGER NOT NULL DEFAULT 1,          -- bumped on every change, so sessions reconnect with the new config
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, name)
);

CREATE INDEX upstreams_name ON upstreams (name);
