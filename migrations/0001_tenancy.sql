-- Tenants and their users: the minimum needed to sign in and scope every request.
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,                       -- slug: ^[a-z0-9][a-z0-9-]{1,31}$
  name TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  servers TEXT NOT NULL DEFAULT '[]',        -- JSON array of enabled server names
  created_at INTEGER NOT NULL
);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  email TEXT NOT NULL UNIQUE,                -- one account per email across the platform (sign-in asks only for email)
  password_hash TEXT NOT NULL,               -- pbkdf2-sha256$iterations$salt$hash
  role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'read-only')),
  created_at INTEGER NOT NULL
);

CREATE INDEX users_tenant ON users (tenant_id);
