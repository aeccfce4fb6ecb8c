import {
  DEFAULT_SETTINGS,
  type BreakerState,
  type CredentialKind,
  type UpstreamPolicy,
  type UpstreamRecord,
  type UpstreamSettings,
  type UpstreamTransport,
} from './upstream-model';

/**
 * D1 access for tenant upstreams. Every query carries the tenant except the two that must not
 * (the router's "does any tenant have this name" check, which answers 404 before any object is
 * created, and secret rotation, which walks every row).
 */

interface UpstreamRow {
  tenant_id: string;
  name: string;
  url: string;
  replicas: string | null;
  balance: string | null;
  transport: UpstreamTransport;
  credential_kind: CredentialKind;
  credentials: string | null;
  policy: string;
  settings: string;
  enabled: number;
  breaker_state: BreakerState;
  version: number;
  created_at: number;
  updated_at: number;
}

function toRecord(row: UpstreamRow): UpstreamRecord {
  return {
    tenantId: row.tenant_id,
    name: row.name,
    url: row.url,
    replicas: row.replicas ? (JSON.parse(row.replicas) as UpstreamRecord['replicas']) : null,
    balance: (row.balance ?? 'round-robin') as UpstreamRecord['balance'],
    transport: row.transport,
    credentialKind: row.credential_kind,
    sealedCredentials: row.credentials,
    policy: JSON.parse(row.policy) as UpstreamPolicy,
    settings: { ...DEFAULT_SETTINGS, ...(JSON.parse(row.settings) as Partial<UpstreamSettings>) },
    enabled: row.enabled === 1,
    breakerState: row.breaker_state,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Fields an insert or update writes: the stored record's, so the two cannot drift apart. */
export type UpstreamWrite = Pick<
  UpstreamRecord,
  'url' | 'replicas' | 'balance' | 'transport' | 'credentialKind' | 'sealedCredentials' | 'policy' | 'settings' | 'enabled'
>;

/**
 * The one home of how an `UpstreamWrite` is stored: each column with the value it takes, in one
 * list, so insert and update write the same columns the same way.
 */
function writeColumns(w: UpstreamWrite): Array<[column: string, value: string | number | null]> {
  return [
    ['url', w.url],
    ['replicas', w.replicas ? JSON.stringify(w.replicas) : null],
    ['balance', w.balance],
    ['transport', w.transport],
    ['credential_kind', w.credentialKind],
    ['credentials', w.sealedCredentials],
    ['policy', JSON.stringify(w.policy)],
    ['settings', JSON.stringify(w.settings)],
    ['enabled', w.enabled ? 1 : 0],
  ];
}

/**
 * Insert an upstream unless the tenant already has one of this name (`exists`) or already has
 * `maxUpstreams` of them (`full`). One statement, so concurrent registrations cannot pass the cap.
 */
export async function insertUpstream(
  db: D1Database,
  tenantId: string,
  name: string,
  w: UpstreamWrite,
  maxUpstreams: number,
): Promise<'inserted' | 'exists' | 'full'> {
  const columns = writeColumns(w);
  // ?1 tenant, ?2 name, then the written columns, then the time (created and updated), then the cap.
  const at = columns.length + 3;
  const res = await db
    .prepare(
      `INSERT INTO upstreams (tenant_id, name, ${columns.map(([c]) => c).join(', ')}, created_at, updated_at)
       SELECT ?1, ?2, ${columns.map((_, i) => `?${i + 3}`).join(', ')}, ?${at}, ?${at} WHERE (SELECT COUNT(*) FROM upstreams WHERE tenant_id = ?1) < ?${at + 1}
       ON CONFLICT (tenant_id, name) DO NOTHING`,
    )
    .bind(tenantId, name, ...columns.map(([, v]) => v), Date.now(), maxUpstreams)
    .run();
  if (res.meta.changes > 0) return 'inserted';
  return (await getUpstream(db, tenantId, name)) ? 'exists' : 'full';
}

/** How many upstreams the tenant has registered (health-check spacing, the cap). */
export async function countUpstreams(db: D1Database, tenantId: string): Promise<number> {
  return (await db.prepare('SELECT COUNT(*) AS n FROM upstreams WHERE tenant_id = ?').bind(tenantId).first<{ n: number }>())?.n ?? 0;
}

/** Replace an upstream's configuration and bump its version (sessions reconnect on the next call). */
export async function updateUpstream(db: D1Database, tenantId: string, name: string, w: UpstreamWrite): Promise<void> {
  const columns = writeColumns(w);
  await db
    .prepare(
      `UPDATE upstreams SET ${columns.map(([c]) => `${c} = ?`).join(', ')},
       version = version + 1, updated_at = ? WHERE tenant_id = ? AND name = ?`,
    )
    .bind(...columns.map(([, v]) => v), Date.now(), tenantId, name)
    .run();
}

/** The tenant's upstream, or null. */
export async function getUpstream(db: D1Database, tenantId: string, name: string): Promise<UpstreamRecord | null> {
  const row = await db.prepare('SELECT * FROM upstreams WHERE tenant_id = ? AND name = ?').bind(tenantId, name).first<UpstreamRow>();
  return row ? toRecord(row) : null;
}

/** The tenant's upstreams, by name. */
export async function listUpstreams(db: D1Database, tenantId: string): Promise<UpstreamRecord[]> {
  const { results } = await db.prepare('SELECT * FROM upstreams WHERE tenant_id = ? ORDER BY name').bind(tenantId).all<UpstreamRow>();
  return results.map(toRecord);
}

/** Delete; false when there was nothing to delete. */
export async function deleteUpstream(db: D1Database, tenantId: string, name: string): Promise<boolean> {
  const res = await db.prepare('DELETE FROM upstreams WHERE tenant_id = ? AND name = ?').bind(tenantId, name).run();
  return res.meta.changes > 0;
}

/** Whether any tenant has an upstream of this name: the router's 404 check, before a token is even read. */
export async function upstreamNameExists(db: D1Database, name: string): Promise<boolean> {
  return (await db.prepare('SELECT 1 AS one FROM upstreams WHERE name = ? LIMIT 1').bind(name).first()) !== null;
}

/** Every distinct upstream name (the OAuth surface declares one protected resource per name). */
export async function upstreamNames(db: D1Database): Promise<string[]> {
  const { results } = await db.prepare('SELECT DISTINCT name FROM upstreams ORDER BY name').all<{ name: string }>();
  return results.map((r) => r.name);
}

/** Record the breaker state the upstream's state object reached (read by /health and the admin API). */
export async function setBreakerState(db: D1Database, tenantId: string, name: string, state: BreakerState): Promise<void> {
  await db.prepare('UPDATE upstreams SET breaker_state = ? WHERE tenant_id = ? AND name = ?').bind(state, tenantId, name).run();
}

/** Health checks a tenant's upstreams make per round (one per replica): spaces the tenant's checks. */
export async function countHealthChecks(db: D1Database, tenantId: string): Promise<number> {
  const row = await db
    .prepare('SELECT COALESCE(SUM(COALESCE(json_array_length(replicas), 1)), 0) AS n FROM upstreams WHERE tenant_id = ?')
    .bind(tenantId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Record how many of an upstream's replicas are taken out (read by /health). */
export async function setReplicasDown(db: D1Database, tenantId: string, name: string, down: number): Promise<void> {
  await db.prepare('UPDATE upstreams SET replicas_down = ? WHERE tenant_id = ? AND name = ?').bind(down, tenantId, name).run();
}

/** Replica counts for /health (an upstream without replicas counts as one), no tenant data. */
export async function replicaCounts(db: D1Database): Promise<{ total: number; down: number }> {
  const row = await db
    .prepare('SELECT COALESCE(SUM(COALESCE(json_array_length(replicas), 1)), 0) AS total, COALESCE(SUM(replicas_down), 0) AS down FROM upstreams')
    .first<{ total: number; down: number }>();
  return { total: row?.total ?? 0, down: row?.down ?? 0 };
}

/** Counts for /health: upstreams per breaker state, no tenant data. */
export async function breakerCounts(db: D1Database): Promise<Record<BreakerState, number>> {
  const { results } = await db
    .prepare('SELECT breaker_state AS state, COUNT(*) AS n FROM upstreams GROUP BY breaker_state')
    .all<{ state: BreakerState; n: number }>();
  const counts: Record<BreakerState, number> = { closed: 0, open: 0, 'half-open': 0 };
  for (const r of results) counts[r.state] = r.n;
  return counts;
}

/** Rows with sealed credentials, for key rotation. */
export async function sealedCredentialRows(db: D1Database): Promise<Array<{ tenantId: string; name: string; sealed: string }>> {
  const { results } = await db
    .prepare('SELECT tenant_id, name, credentials FROM upstreams WHERE credentials IS NOT NULL')
    .all<{ tenant_id: string; name: string; credentials: string }>();
  return results.map((r) => ({ tenantId: r.tenant_id, name: r.name, sealed: r.credentials }));
}

/** Store a re-sealed value, only if the row still holds the value that was re-sealed (no lost update). */
export async function replaceSealedCredentials(db: D1Database, tenantId: string, name: string, from: string, to: string): Promise<boolean> {
  const res = await db
    .prepare('UPDATE upstreams SET credentials = ? WHERE tenant_id = ? AND name = ? AND credentials = ?')
    .bind(to, tenantId, name, from)
    .run();
  return res.meta.changes > 0;
}
