import { env } from 'cloudflare:test';
import { expect } from 'vitest';
import type { AuditEvent } from '../../src/audit/audit-event';
import { deliverToStores } from '../../src/audit/audit-store';
import { adminCall, OPERATOR } from './platform-client';

/** One audit query through the admin API (as the operator unless a bearer is given). */
export async function auditQuery(path: string, bearer = OPERATOR): Promise<{ status: number; body: any }> {
  return adminCall('GET', path, undefined, bearer);
}

/**
 * Poll the tenant's audit trail until `predicate` holds for the matching events (delivery is
 * asynchronous: outbox, then a batch to D1). Returns the events; fails with what it saw on timeout.
 */
export async function waitForEvents(tenant: string, query: string, predicate: (events: any[]) => boolean, timeoutMs = 30_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  let events: any[] = [];
  while (Date.now() < deadline) {
    const res = await auditQuery(`/tenants/${tenant}/audit?limit=5000&${query}`);
    expect(res.status).toBe(200);
    events = res.body.events;
    if (predicate(events)) return events;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`audit events for ${tenant} (${query}) never satisfied the check; last saw ${events.length}: ${JSON.stringify(events.slice(0, 3))}`);
}

/** `tools/call` of a notes tool through the JSON-RPC helper's shape. */
export const toolCall = (name: string, args: Record<string, unknown> = {}) => ({ name, arguments: args });

/** A whole audit event from the fields a test cares about (a fresh id; every other field empty, a `tools/call` that went through). */
export function auditEvent(e: Partial<AuditEvent> & { time: number; tenant: string | null }): AuditEvent {
  return {
    id: crypto.randomUUID(),
    action: 'tools/call',
    result: 'ok',
    user: null,
    client: null,
    session: null,
    server: null,
    resource: null,
    latencyMs: null,
    correlationId: null,
    ip: null,
    details: null,
    ...e,
  };
}

/** Move a tenant's creation back `ms`: its own audit views and metrics start at its creation. */
export async function backdateTenant(tenant: string, ms: number): Promise<void> {
  await env.DB.prepare('UPDATE tenants SET created_at = MIN(created_at, ?) WHERE id = ?')
    .bind(Date.now() - ms, tenant)
    .run();
}

/**
 * Events written straight into the tenant's audit store (as an outbox would ship them), for tests
 * that need many events or events in the past. The tenant's creation is moved back `backdateMs` so
 * its own views (which start at its creation) show them.
 */
export async function seedStoreEvents(
  tenant: string,
  events: Array<Partial<AuditEvent> & { time: number }>,
  backdateMs = 3 * 86_400_000,
): Promise<AuditEvent[]> {
  const full: AuditEvent[] = events.map((e) => auditEvent({ tenant, ...e }));
  await backdateTenant(tenant, backdateMs);
  await deliverToStores(env, full);
  return full;
}
