import { env, runInDurableObject, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { REUSE_GRACE_MS } from '../../src/oauth/refresh-guard';
import { ORIGIN, PASSWORD, adminCall, mcpPost, obtainToken, seedTenant } from './platform-client';

/**
 * Finding 9 of the security review: two concurrent refreshes left one client with a dead token, an
 * old refresh token stayed valid forever (and replaying it killed the current one), and a deleted
 * user's grants kept refreshing. Real OAuth flows through the Worker.
 */

interface TokenAnswer {
  access_token: string;
  refresh_token: string;
}

const refresh = (refreshToken: string, clientId: string) =>
  SELF.fetch(`${ORIGIN}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
  });

async function works(accessToken: string): Promise<boolean> {
  const res = await mcpPost('notes', accessToken, {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
  });
  await res.arrayBuffer();
  return res.status === 200;
}

async function session() {
  const t = await seedTenant(['notes'], ['member']);
  const tokens = await obtainToken(t.accounts.member!, 'notes');
  const userId = (await adminCall('GET', `/tenants/${t.id}/users`)).body.users[0].id as string;
  return { t, tokens: tokens as typeof tokens & { refresh_token: string }, userId };
}

/** Pretend the rotations of this grant happened longer ago than the grace. */
async function ageRotations(refreshToken: string): Promise<void> {
  const [userId, grantId] = refreshToken.split(':');
  await runInDurableObject(env.REFRESH_GUARD.get(env.REFRESH_GUARD.idFromName(`${userId}:${grantId}`)), async (_instance, state) => {
    for (const [key, value] of await state.storage.list<{ at: number }>({ prefix: 'r:' })) {
      await state.storage.put(key, { at: value.at - REUSE_GRACE_MS - 5_000 });
    }
  });
}

describe('refresh tokens (security review finding 9)', () => {
  it('two (and five) concurrent refreshes of one token all succeed with tokens that keep working', async () => {
    for (const n of [2, 5]) {
      const { tokens } = await session();
      const answers = await Promise.all(Array.from({ length: n }, () => refresh(tokens.refresh_token, tokens.clientId)));
      expect(answers.map((r) => r.status)).toEqual(Array(n).fill(200));
      const bodies = (await Promise.all(answers.map((r) => r.json()))) as TokenAnswer[];
      for (const body of bodies) expect(await works(body.access_token)).toBe(true);
      // Every client refreshes again with what it got: all succeed, and the grant keeps working.
      const next = await Promise.all(bodies.map((b) => refresh(b.refresh_token, tokens.clientId)));
      expect(next.map((r) => r.status)).toEqual(Array(n).fill(200));
      const latest = (await next[0]!.json()) as TokenAnswer;
      expect(await works(latest.access_token)).toBe(true);
      expect((await refresh(latest.refresh_token, tokens.clientId)).status).toBe(200);
    }
  });

  it('a retry of the same refresh within the grace gets the same answer, and does not kill the newer token', async () => {
    const { tokens } = await session();
    const first = (await (await refresh(tokens.refresh_token, tokens.clientId)).json()) as TokenAnswer;
    const retry = await refresh(tokens.refresh_token, tokens.clientId);
    expect(retry.status).toBe(200);
    expect(((await retry.json()) as TokenAnswer).refresh_token).toBe(first.refresh_token);
    expect((await refresh(first.refresh_token, tokens.clientId)).status).toBe(200);
  });

  it('reuse of a rotated-out refresh token past the grace revokes the whole grant, audited once under the tenant', async () => {
    const { t, tokens } = await session();
    const r1 = (await (await refresh(tokens.refresh_token, tokens.clientId)).json()) as TokenAnswer;
    const r2 = (await (await refresh(r1.refresh_token, tokens.clientId)).json()) as TokenAnswer;
    expect(await works(r2.access_token)).toBe(true);
    await ageRotations(tokens.refresh_token);
    // The attacker replays the oldest token (the provider alone would still accept a previous one).
    const reuse = await refresh(tokens.refresh_token, tokens.clientId);
    expect(reuse.status).toBe(400);
    expect(((await reuse.json()) as { error: string }).error).toBe('invalid_grant');
    // The legitimate client's current tokens are dead too: the grant is gone.
    expect((await refresh(r2.refresh_token, tokens.clientId)).status).toBe(400);
    expect(await works(r2.access_token)).toBe(false);
    for (let i = 0; ; i++) {
      const events = (await adminCall('GET', `/tenants/${t.id}/audit?action=oauth.token&result=denied&limit=100`)).body.events as any[];
      const reuses = events.filter((e) => e.details?.note === 'refresh_token_reuse');
      if (reuses.length > 0) {
        expect(reuses).toHaveLength(1);
        break;
      }
      expect(i, 'reuse never audited').toBeLessThan(80);
      await new Promise((r) => setTimeout(r, 250));
    }
  });

  it('the previous token replayed past the grace is a reuse as well (the provider would have accepted it)', async () => {
    const { tokens } = await session();
    const r1 = (await (await refresh(tokens.refresh_token, tokens.clientId)).json()) as TokenAnswer;
    await ageRotations(tokens.refresh_token);
    expect((await refresh(tokens.refresh_token, tokens.clientId)).status).toBe(400);
    expect((await refresh(r1.refresh_token, tokens.clientId)).status).toBe(400);
  });

  it('a replay from another client is refused without revoking the grant', async () => {
    const { tokens } = await session();
    const r1 = (await (await refresh(tokens.refresh_token, tokens.clientId)).json()) as TokenAnswer;
    expect((await refresh(tokens.refresh_token, 'someone-else')).status).toBe(400);
    expect((await refresh(r1.refresh_token, tokens.clientId)).status).toBe(200);
  });

  it('ends the grants of a deleted user, a user whose password was reset, and a suspended tenant’s users', async () => {
    const deleted = await session();
    expect((await adminCall('DELETE', `/tenants/${deleted.t.id}/users/${deleted.userId}`)).status).toBe(204);
    expect((await refresh(deleted.tokens.refresh_token, deleted.tokens.clientId)).status).toBe(400);
    expect(await works(deleted.tokens.access_token)).toBe(false);

    const reset = await session();
    expect((await adminCall('PATCH', `/tenants/${reset.t.id}/users/${reset.userId}`, { password: `${PASSWORD}-new` })).status).toBe(200);
    expect((await refresh(reset.tokens.refresh_token, reset.tokens.clientId)).status).toBe(400);
    expect(await works(reset.tokens.access_token)).toBe(false);

    const suspended = await session();
    expect((await adminCall('PATCH', `/tenants/${suspended.t.id}`, { status: 'suspended' })).status).toBe(200);
    expect((await refresh(suspended.tokens.refresh_token, suspended.tokens.clientId)).status).toBe(400);
    expect((await adminCall('PATCH', `/tenants/${suspended.t.id}`, { status: 'active' })).status).toBe(200);
    // Revoked, not paused: resuming does not bring the grant back.
    expect((await refresh(suspended.tokens.refresh_token, suspended.tokens.clientId)).status).toBe(400);

    // A role change is not a loss of access: the grant keeps refreshing.
    const demoted = await session();
    expect((await adminCall('PATCH', `/tenants/${demoted.t.id}/users/${demoted.userId}`, { role: 'read-only' })).status).toBe(200);
    const after = await refresh(demoted.tokens.refresh_token, demoted.tokens.clientId);
    expect(after.status).toBe(200);
    expect(await works(((await after.json()) as TokenAnswer).access_token)).toBe(true);
  });
});
