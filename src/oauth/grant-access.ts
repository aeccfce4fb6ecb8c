import { OAuthError, type TokenExchangeCallbackOptions, type TokenExchangeCallbackResult } from '@cloudflare/workers-oauth-provider';
import { GrantPropsSchema } from '../gate/principal-resolver';
import { getAccessRecord } from '../tenancy/tenant-store';
import { noteTokenSubject } from './oauth-audit';

/**
 * The provider's `tokenExchangeCallback`: runs inside every code exchange and refresh, after the
 * provider verified the grant. A grant whose user was deleted, or whose tenant is suspended or
 * gone, gets no new token: `invalid_grant`, which also makes the provider revoke the grant and its
 * tokens (so a suspended tenant's users sign in again after it is resumed). Otherwise the grant's
 * props carry the user's current role (the gate reads the role afresh on every request anyway).
 */
export async function onTokenExchange(options: TokenExchangeCallbackOptions<Env>): Promise<TokenExchangeCallbackResult | void> {
  noteTokenSubject(options.props);
  const grant = GrantPropsSchema.safeParse(options.props);
  if (!grant.success) return;
  const access = await getAccessRecord(options.env.DB, grant.data.tenantId, grant.data.userId);
  if (!access) throw new OAuthError('invalid_grant', { description: 'The account of this grant no longer exists' });
  if (access.tenantStatus !== 'active') throw new OAuthError('invalid_grant', { description: "The account's organization is suspended" });
  if (access.role !== grant.data.role) return { newProps: { ...grant.data, role: access.role } };
}
