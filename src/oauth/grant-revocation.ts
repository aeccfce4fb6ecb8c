import { oauthSurface } from './oauth-surface';

/**
 * End every OAuth grant of a user: its refresh tokens stop refreshing and its access tokens stop
 * validating at once (the provider deletes the grant and its tokens). Called when the user is
 * deleted, loses access (role change, tenant suspension or deletion), or replays an old refresh
 * token. Returns how many grants went.
 */
export async function revokeUserGrants(env: Env, userId: string): Promise<number> {
  const oauth = (await oauthSurface(env)).authorizationServer.getOAuthApi(env);
  let revoked = 0;
  // Always read the first page again: revoking while following a cursor could skip grants.
  for (let round = 0; round < 50; round++) {
    const page = await oauth.listUserGrants(userId, { limit: 100 });
    if (page.items.length === 0) break;
    for (const grant of page.items) await oauth.revokeGrant(grant.id, userId);
    revoked += page.items.length;
  }
  return revoked;
}
