import { describe, expect, it } from 'vitest';
import { toAuditEvent } from '../../src/audit/audit-record';
import { eventId } from '../../src/audit/event-id';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('audit event ids', () => {
  it('are UUIDs version 7 carrying the event time, so later events sort later', () => {
    const a = toAuditEvent({ tenant: 't', action: 'tools/call', result: 'ok' });
    expect(a.id).toMatch(V7);
    expect(Number.parseInt(a.id.replace('-', '').slice(0, 12), 16)).toBe(a.time);
    const times = [0, 1, 255, 256, 1_700_000_000_000, Date.now(), 2 ** 48 - 1];
    const ids = times.map(eventId);
    for (const id of ids) expect(id).toMatch(V7);
    expect([...ids].sort()).toEqual(ids);
  });

  it('are unique within one millisecond', () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 20_000 }, () => eventId(now)));
    expect(ids.size).toBe(20_000);
  });
});
