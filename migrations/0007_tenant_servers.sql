-- Tenant-deployed MCP servers (src/tenant-servers): a tenant's own ES module, run in a sandboxed
-- isolate through the Dynamic Worker Loader and served at /servers/<name>/mcp for that tenant only.
CREATE TABLE tenant_servers (
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name TEXT NOT NULL,                          -- URL segment: never a compiled-in server's name, nor an upstream of this tenant
  title TEXT,
  description TEXT,
  active_version INTEGER NOT NULL,             -- the version served; rollback moves it back
  egress TEXT NOT NULL DEFAULT '[]',           -- JSON: hostnames the module may fetch (empty: no network at all)
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, name)
);
CREATE INDEX tenant_servers_name ON tenant_servers (name);

-- Every version ever deployed (kept for rollback). `source` is what the tenant uploaded; `compiled`
-- is the metered form the sandbox runs (src/tenant-servers/module-meter.ts). Lives in the control
-- plane D1, which no tenant storage tool can reach.
CREATE TABLE tenant_server_versions (
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  source TEXT NOT NULL,
  compiled TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  tools TEXT NOT NULL,                         -- JSON: tool names found at validation, for listings
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, name, version),
  FOREIGN KEY (tenant_id, name) REFERENCES tenant_servers (tenant_id, name) ON DELETE CASCADE
);
