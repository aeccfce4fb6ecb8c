import type { AuditEvent } from './audit-event';
import { dayOf, scopeOf, shardStore } from './store-names';

/**
 * Deliver a batch from an outbox to the stores: events are grouped by scope (tenant) and UTC day,
 * and each group goes to its shard in one call. Resolves only when every shard acknowledged; when
 * any fails it rejects and the outbox keeps the whole batch (the shards that did store it ignore
 * the resend, because the event id is the primary key).
 */
export async function deliverToStores(env: Env, events: AuditEvent[]): Promise<void> {
  const groups = new Map<string, { scope: string; day: string; events: AuditEvent[] }>();
  for (const e of events) {
    const scope = scopeOf(e.tenant);
    const day = dayOf(e.time);
    const key = `${scope}:${day}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { scope, day, events: [] }));
    group.events.push(e);
  }
  await Promise.all([...groups.values()].map((g) => shardStore(env, g.scope, g.day).ingest(g.scope, g.day, g.events)));
}
