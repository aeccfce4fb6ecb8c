import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { auditQuery } from './audit-support';
import { ORIGIN, adminCall, obtainToken, registerClient, seedTenant } from './platform-client';

/**
 * Finding 14 of the security review: failed `/oauth/token` requests carrying another tenant's user
 * id wrote `oauth.revoke` events, with a client string the attacker chose, into that tenant's
 * trail. Events are now filed under a tenant only after the credential is verified.
 */

const tokenPost = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
  SELF.fetch(`${ORIGIN}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields),
  });

async function events(path: string): Promise<any[]> {
  const res = await auditQuery(path);
  expect(res.status).toBe(200);
  return res.body.events;
}

async function eventually(path: string, predicate: (events: any[]) => boolean): Promise<any[]> {
  for (let i = 0; ; i++) {
    const found = await events(path);
    if (predicate(found)) return found;
    expect(i, `never saw the expected events at ${path}`).toBeLessThan(80);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('OAuth audit attribution (security review finding 14)', () => {
  it('files failed revocations and refreshes naming another tenant’s user on the platform trail, with a bounded client', async () => {
    const victim = await seedTenant(['notes'], ['member']);
    const victimUser = (await adminCall('GET', `/tenants/${victim.id}/users`)).body.users[0].id as string;
    const victimTokens = await obtainToken(victim.accounts.member!, 'notes');
    const [, grantId] = victimTokens.refresh_token!.split(':');
    const attacker = await registerClient('attacker');
    const marker = `inj-${crypto.randomUUID().slice(0, 8)}`;

    const forged: Array<Record<string, string>> = [
      { token: `${victimUser}:fake-grant:${'x'.repeat(40)}`, client_id: `${marker}-plain` },
      { token: `${victimUser}:${grantId}:${'y'.repeat(40)}`, client_id: attacker.client_id, token_type_hint: 'refresh_token' },
      { token: `${victimUser}:${grantId}:${'z'.repeat(40)}`, client_id: `${marker}\n{"forged":true}`, token_type_hint: 'access_token' },
      { token: `${victimUser}:fake:${'w'.repeat(40)}`, client_id: `${marker}-${'A'.repeat(60_000)}` },
      // A real token presented by the wrong client is not the client's to revoke either.
      { token: victimTokens.refresh_token!, client_id: attacker.client_id },
      { token: victimTokens.access_token, client_id: attacker.client_id },
    ];
    for (const fields of forged) {
      const res = await tokenPost(fields);
      expect(res.status, String(fields.client_id).slice(0, 40)).toBeLessThan(500);
      await res.arrayBuffer();
    }
    const basic = btoa(`${marker}-basic:secret`);
    await (await tokenPost({ token: `${victimUser}:g:${'v'.repeat(40)}` }, { authorization: `Basic ${basic}` })).arrayBuffer();
    await (
      await tokenPost({ grant_type: 'refresh_token', refresh_token: `${victimUser}:${grantId}:${'q'.repeat(40)}`, client_id: `${marker}-refresh` })
    ).arrayBuffer();

    // The victim's own refresh still works: nothing forged revoked it.
    const refreshed = await tokenPost({ grant_type: 'refresh_token', refresh_token: victimTokens.refresh_token!, client_id: victimTokens.clientId });
    expect(refreshed.status).toBe(200);
    const fresh = (await refreshed.json()) as { refresh_token: string };

    // A genuine revocation is filed under the victim's tenant with the verified user and client.
    expect((await tokenPost({ token: fresh.refresh_token, client_id: victimTokens.clientId, token_type_hint: 'refresh_token' })).status).toBe(200);
    const own = await eventually(`/tenants/${victim.id}/audit?limit=5000&action=oauth.revoke`, (e) => e.length >= 1);
    expect(own).toHaveLength(1);
    expect(own[0]).toMatchObject({ tenant: victim.id, user: victimUser, client: victimTokens.clientId, result: 'ok' });

    // None of the forged requests reached the victim's trail, under any action.
    const victimTrail = await events(`/tenants/${victim.id}/audit?limit=5000`);
    expect(JSON.stringify(victimTrail)).not.toContain(marker);
    expect(victimTrail.filter((e) => e.client === attacker.client_id)).toEqual([]);
    expect(victimTrail.filter((e) => e.action === 'oauth.token' && e.result !== 'ok')).toEqual([]);

    // They are on the platform trail, unattributed, with bounded client strings.
    const platform = await eventually(
      '/audit?tenant=_platform&limit=5000&action=oauth.revoke',
      (e) => e.filter((x) => String(x.client).startsWith(marker) || x.client === 'invalid').length >= 3,
    );
    const mine = platform.filter((e) => String(e.client).startsWith(marker) || e.client === 'invalid' || e.client === attacker.client_id);
    expect(mine.length).toBeGreaterThanOrEqual(forged.length);
    for (const e of mine) {
      expect(e.tenant).toBeNull();
      expect(e.user ?? null).toBeNull();
      expect(String(e.client).length).toBeLessThanOrEqual(100);
      expect(String(e.client)).not.toMatch(/[\n{}"]/);
    }
    expect(mine.some((e) => e.client === `${marker}-plain`)).toBe(true);
    expect(mine.some((e) => e.client === 'invalid')).toBe(true);
    expect(mine.some((e) => e.client === `${marker}-basic`)).toBe(true);
    const refreshEvents = await eventually('/audit?tenant=_platform&limit=5000&action=oauth.token', (e) => e.some((x) => x.client === `${marker}-refresh`));
    expect(refreshEvents.find((e) => e.client === `${marker}-refresh`)).toMatchObject({ tenant: null, result: 'denied' });
  });
});
