-- Audit trail: one row per event, shipped from Durable Object outboxes (ids are idempotency keys).
CREATE TABLE audit_events (
  id TEXT PRIMARY KEY,
  time INTEGER NOT NULL,               -- ms since epoch
  tenant TEXT,                         -- NULL: caller not identified (platform-level event)
  action TEXT NOT NULL,
  result TEXT NOT NULL CHECK (result IN ('ok', 'error', 'denied', 'rate_limited')),
  user TEXT,
  client TEXT,
  session TEXT,
  server TEXT,
  resource TEXT,
  latency_ms REAL,
  correlation_id TEXT,
  ip TEXT,
  details TEXT                         -- JSON, secrets redacted before storage
);
CREATE INDEX audit_tenant_time ON audit_events (tenant, time, id);
CREATE INDEX audit_time ON audit_events (time);

-- Per-tenant retention of the audit trail, enforced by the scheduled handler.
ALTER TABLE tenants ADD COLUMN audit_retention_days INTEGER NOT NULL DEFAULT 30;
