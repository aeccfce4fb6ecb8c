import { expect } from 'vitest';
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
