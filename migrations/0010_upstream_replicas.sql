-- Upstream replicas and load balancing (docs/gateway.md): `replicas` is a JSON array of
-- { url, weight } (NULL: the single `url`), `balance` the strategy, `replicas_down` how many are
-- taken out right now (written by the upstream's state object, counted by /health).
ALTER TABLE upstreams ADD COLUMN replicas TEXT;
ALTER TABLE upstreams ADD COLUMN balance TEXT NOT NULL DEFAULT 'round-robin';
ALTER TABLE upstreams ADD COLUMN replicas_down INTEGER NOT NULL DEFAULT 0;
