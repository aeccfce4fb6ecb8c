-- Emails are unique per tenant, not across the platform: a global constraint let one tenant's admin
-- learn whether an address exists in another tenant (409 vs 201) and take an address before its
-- tenant did. Sign-in finds the tenant from the email, or from the organization field when the
-- address belongs to several (src/tenancy/tenant-store.ts authenticate). SQLite cannot drop a
-- constraint, so the table is rebuilt (nothing references users).
CREATE TABLE users_by_tenant (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  email TEXT NOT NULL,                       -- normalised (trimmed, NFKC, lower case) by EmailSchema
  password_hash TEXT NOT NULL,               -- pbkdf2-sha256$iterations$salt$hash
  role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'read-only')),
  created_at INTEGER NOT NULL,
  UNIQUE (tenant_id, email)
);
INSERT INTO users_by_tenant (id, tenant_id, email, password_hash, role, created_at)
  SELECT id, tenant_id, email, password_hash, role, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_by_tenant RENAME TO users;
CREATE INDEX users_tenant ON users (tenant_id);
CREATE INDEX users_email ON users (email);
