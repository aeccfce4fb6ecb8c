import type { GateTarget } from '../gate/mcp-gate';
import { keyProps, type KeyProps } from '../gate/principal-resolver';
import { recordDenial } from '../audit/record';
import { API_KEY_PREFIX, verifyApiKeyForMcp, type VerifiedKey } from '../tenancy/api-keys';
import { tenantDefinedQuery } from '../tenancy/server-names';

/** The gate's props of a verified key (src/tenancy/access-cache.ts keeps one verified object per key while cached). */
const propsOf = new WeakMap<VerifiedKey, KeyProps>();

/** What a bearer token validates to on a protected resource (the provider's `validateToken` result shape). */
export interface BearerValidation<P> {
  props: P;
  audience: string;
  clientId: string;
}

/**
 * The bearer token of an `Authorization` header, parsed exactly as the OAuth provider's resource
 * server parses it (`Bearer` in any case, spaces or tabs, one token without whitespace or commas),
 * when that token is an API key; null for anything else, which is left to the provider.
 */
export function apiKeyBearer(authorization: string | null): string | null {
  if (!authorization) return null;
  const token = /^Bearer[\t ]+([^\s,]+)$/i.exec(authorization)?.[1];
  return token?.startsWith(API_KEY_PREFIX) ? token : null;
}

/**
 * Validate an API key presented to the protected resource `resource` (the one place that turns a
 * key into the gate's props). API keys are tenant credentials, not bound to one resource: the gate
 * checks the server is enabled for the key's tenant. For a tenant-defined name, what it is for the
 * key's tenant is read in the same D1 round trip as the key. A refusal is audited here, once, and
 * answered null.
 */
export async function validateApiKey(env: Env, target: GateTarget, resource: string, token: string): Promise<BearerValidation<KeyProps> | null> {
  const name = target.server.name;
  const verified = await verifyApiKeyForMcp(env.DB, token, undefined, target.upstream ? (tenantId) => tenantDefinedQuery(env.DB, tenantId, name) : undefined);
  if ('refusal' in verified) {
    recordDenial(`api key ${verified.refusal}`, { path: new URL(resource).pathname, action: 'auth.api_key' });
    return null;
  }
  const { key, tenant, alongside } = verified;
  // A lookup served from the credential cache is the same object each time: so are its props.
  let props = alongside === undefined ? propsOf.get(verified) : undefined;
  if (!props) {
    props = keyProps({ kind: 'api-key', tenantId: key.tenantId, keyId: key.id, role: key.role, tenant, definedRow: alongside });
    if (alongside === undefined) propsOf.set(verified, props);
  }
  return { props, audience: resource, clientId: key.id };
}
