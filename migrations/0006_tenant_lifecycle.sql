-- Tenant incarnations: deleting a tenant retires its generation; creating the id again starts the
-- next one, whose storage namespace (KV/R2 prefixes, SQL database object) is new and empty
-- (src/tenancy/model.ts storageNamespace, docs/security.md "Deleting a tenant").
ALTER TABLE tenants ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;

-- One row per deleted tenant incarnation, kept after its data is purged so generations never repeat.
CREATE TABLE retired_tenants (
  id TEXT NOT NULL,
  generation INTEGER NOT NULL,
  deleted_at INTEGER NOT NULL,
  users TEXT NOT NULL DEFAULT '[]',      -- JSON: user ids whose OAuth grants the purge revokes
  upstreams TEXT NOT NULL DEFAULT '[]',  -- JSON: upstream names whose state objects the purge resets
  purged_at INTEGER,                     -- NULL until every store of the incarnation is empty
  attempts INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (id, generation)
);
CREATE INDEX retired_tenants_pending ON retired_tenants (purged_at);
