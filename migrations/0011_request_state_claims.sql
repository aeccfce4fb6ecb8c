-- Single-use markers of the 2026-07-28 lane's multi-round-trip requestState (src/modern/request-state.ts).
-- A verified state's nonce is claimed with one INSERT: the primary key makes the claim atomic, so the
-- same state presented twice, even concurrently or through two isolates, completes at most once.
-- Rows are useless after expires_at and are deleted by later claims.
CREATE TABLE request_state_claims (
  nonce TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE INDEX request_state_claims_expiry ON request_state_claims (expires_at);
