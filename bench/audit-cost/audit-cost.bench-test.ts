/**
 * The audit cost of one session request, piece by piece (`npm run bench:audit-cost`; figures in
 * docs/performance.md). Each piece runs N times back to back in one workerd and is reported as
 * microseconds per event, so the machine's speed shows in all of them alike:
 *
 * - build: the guard's event (`toAuditEvent`: id, time, redaction of the arguments);
 * - append: a row in an outbox's SQLite, back to back in one turn (where a failed batched delivery's
 *   events are kept: a session's own outbox, or the tenant's outbox object for Worker code). Since
 *   2026-12-01 no request writes it in its own turn: see docs/audit.md, "Durable within one delivery";
 * - a light session's shipment, from inside a Durable Object as the session ships: 5 events
 *   appended then delivered to the tenant's audit store and deleted (what a session making about
 *   one call a second ships every 5 s); the same through the tenant's Worker-side outbox (a
 *   cross-session hand-on that was tried and measured slower: two more durable hops);
 * - store delivery from outside any object, in batches of 5, 50 and 500: the store's cost per
 *   delivery is mostly per batch, not per event;
 * - the shard's own work (`AuditShard.ingest` inside its object: no RPC, no wait for the commit),
 *   in chunks of 5 and 50, each event from one of 100 sessions as above, and in chunks of 50 from
 *   one session (the shape of a busy session's own shipment).
 */
import { env, runInDurableObject } from 'cloudflare:test';
import { it } from 'vitest';
import type { AuditEventInput } from '../../src/audit/audit-event';
import { AuditOutbox } from '../../src/audit/audit-outbox';
import { toAuditEvent } from '../../src/audit/audit-record';
import { deliverToStores } from '../../src/audit/audit-store';
import { auditOutbox } from '../../src/audit/record';
import { AuditShard } from '../../src/audit/audit-shard';
import type { AuditEvent } from '../../src/audit/audit-event';

const N = Number((env as unknown as { BENCH_EVENTS: string }).BENCH_EVENTS);

const input = (tenant: string, i: number): AuditEventInput => ({
  tenant,
  user: 'key:bench',
  client: 'bench',
  server: 'everything',
  session: `session-${i % 100}`,
  action: 'tools/call',
  resource: 'echo',
  result: 'ok',
  latencyMs: 3,
  correlationId: crypto.randomUUID(),
  details: { arguments: { text: 'hello' }, era: '2025' },
});

const perEvent = (started: number, n: number) => `${(((performance.now() - started) / n) * 1000).toFixed(1)} µs`;

it(`audit cost per session request (${N} events per piece)`, async () => {
  const rows: string[] = [];
  const tenant = `audit-cost-${crypto.randomUUID().slice(0, 8)}`;

  let t = performance.now();
  const built = Array.from({ length: N }, (_, i) => toAuditEvent(input(tenant, i)));
  rows.push(`| build the event (toAuditEvent) | ${perEvent(t, N)} |`);

  const session = env.AUDIT_OUTBOX.get(env.AUDIT_OUTBOX.idFromName(`bench-session-${crypto.randomUUID()}`));
  await runInDurableObject(session, async (_o, state) => {
    const outbox = new AuditOutbox(state.storage.sql);
    t = performance.now();
    for (const e of built) outbox.append(e);
    rows.push(`| append to an outbox (SQLite INSERT, back to back in one turn) | ${perEvent(t, N)} |`);
    state.storage.sql.exec('DELETE FROM smcp_audit_outbox');
    t = performance.now();
    for (let i = 0; i < N; i += 5) {
      for (const e of built.slice(i, i + 5)) outbox.append(e);
      await outbox.ship(env);
    }
    rows.push(`| light session's shipment: append, deliver 5 at a time to the store, delete | ${perEvent(t, N)} |`);
    t = performance.now();
    for (let i = 0; i < N; i += 5) {
      const five: AuditEvent[] = built.slice(i, i + 5).map((e) => ({ ...e, id: crypto.randomUUID() }));
      for (const e of five) outbox.append(e);
      await auditOutbox(env, tenant).append(five);
      for (const e of five) state.storage.sql.exec('DELETE FROM smcp_audit_outbox WHERE id = ?', e.id);
    }
    rows.push(`| the same through the tenant's outbox (append there, delete here; its own delivery follows) | ${perEvent(t, N)} |`);
  });

  for (const size of [5, 50, 500]) {
    const events = Array.from({ length: N }, (_, i) => toAuditEvent(input(`${tenant}-${size}`, i)));
    t = performance.now();
    for (let i = 0; i < events.length; i += size) await deliverToStores(env, events.slice(i, i + size));
    rows.push(`| store delivery in batches of ${size} | ${perEvent(t, N)} |`);
  }
  for (const [size, sessions] of [
    [5, 100],
    [50, 100],
    [50, 1],
  ] as const) {
    const events = Array.from({ length: N }, (_, i) => ({ ...toAuditEvent(input(`${tenant}-shard-${size}`, i)), session: `session-${i % sessions}` }));
    const shard = env.AUDIT_STORE.get(env.AUDIT_STORE.idFromName(`bench-shard-${crypto.randomUUID()}`));
    await runInDurableObject(shard, (_o, state) => {
      const store = new AuditShard(state.storage);
      t = performance.now();
      for (let i = 0; i < events.length; i += size) store.ingest(events.slice(i, i + size));
      rows.push(
        `| the shard's own work (AuditShard.ingest in its object), chunks of ${size}, ${sessions === 1 ? 'one session' : `${sessions} sessions`} | ${perEvent(t, N)} |`,
      );
    });
  }
  console.log(['', `audit cost per event, ${N} events per piece`, '| piece | per event |', '|---|---:|', ...rows].join('\n'));
});
