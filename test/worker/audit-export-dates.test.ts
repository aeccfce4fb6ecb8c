import { describe, expect, it } from 'vitest';
import { createKey, OPERATOR, ORIGIN, seedTenant } from './platform-client';
import { SELF } from 'cloudflare:test';

async function get(path: string, bearer = OPERATOR): Promise<{ status: number; type: string | null; body: any }> {
  const res = await SELF.fetch(`${ORIGIN}/admin/api${path}`, { headers: { authorization: `Bearer ${bearer}` } });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the assertions below say so
  }
  return { status: res.status, type: res.headers.get('content-type'), body };
}

describe('audit export downloads name a real calendar day', () => {
  it('answers 400 with a JSON error for dates that are not days, on the tenant and the operator routes; a real day without a file is 404', async () => {
    const t = await seedTenant(['notes']);
    const admin = await createKey(t.id, 'admin');
    const bad = ['2026-13-45', '2026-02-30', '2026-00-10', '2026-04-31', '2025-02-29', '2026-1-01', 'yesterday', '2026-01-01T00', '99999-01-01'];
    for (const date of bad) {
      for (const [path, bearer] of [
        [`/tenants/${t.id}/audit/exports/${date}`, OPERATOR],
        [`/tenants/${t.id}/audit/exports/${date}`, admin.key],
        [`/audit/exports/${date}?tenant=${t.id}`, OPERATOR],
      ] as const) {
        const res = await get(path, bearer);
        expect(res.status, path).toBe(400);
        expect(res.type, path).toContain('application/json');
        expect(res.body.error, path).toEqual({ code: 'invalid_request', message: expect.stringContaining('yyyy-mm-dd') });
      }
    }
    // Real days (a leap day included) are looked up: nothing was exported, so 404, never 400.
    for (const date of ['2024-02-29', '2026-12-31']) {
      expect((await get(`/tenants/${t.id}/audit/exports/${date}`)).status, date).toBe(404);
      expect((await get(`/audit/exports/${date}?tenant=${t.id}`)).status, date).toBe(404);
    }
  });
});
