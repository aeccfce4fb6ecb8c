import { recordAudit } from '../audit/record';
import { KeyringError, keyringFrom, reseal, SealError } from '../crypto/sealed-secrets';
import { credentialContext } from '../gateway/upstream-model';
import { replaceSealedCredentials, sealedCredentialRows } from '../gateway/upstream-store';
import { json, restError } from '../http/responses';
import type { Actor } from './admin-auth';

/**
 * `POST /admin/api/secrets/rotate` (operator): re-seal every stored secret under the current key
 * (the first in `SMCP_ENCRYPTION_KEYS`). Rotation procedure: prepend a new key, deploy, call this
 * until `remaining` is 0, then remove the old key and deploy again. Idempotent; values already
 * under the current key are left alone, and a row changed meanwhile is not overwritten.
 */
export async function rotateSecretsRoute(env: Env, actor: Actor): Promise<Response> {
  if (actor.kind !== 'operator') return restError(403, 'forbidden', 'Only the platform operator may do this');
  let ring;
  try {
    ring = await keyringFrom(env);
  } catch (error) {
    if (error instanceof KeyringError) return restError(503, 'not_configured', error.message);
    throw error;
  }
  let resealed = 0;
  let current = 0;
  const failed: string[] = [];
  for (const row of await sealedCredentialRows(env.DB)) {
    try {
      const next = await reseal(ring, row.sealed, credentialContext(row.tenantId, row.name));
      if (next === null) current++;
      else if (await replaceSealedCredentials(env.DB, row.tenantId, row.name, row.sealed, next)) resealed++;
    } catch (error) {
      if (!(error instanceof SealError)) throw error;
      failed.push(`${row.tenantId}/${row.name}`);
    }
  }
  await recordAudit(env, {
    tenant: null,
    action: 'admin.secrets.rotate',
    result: failed.length ? 'error' : 'ok',
    user: 'operator',
    details: { resealed, current, failed: failed.length },
  });
  return json({ currentKey: ring.current, resealed, alreadyCurrent: current, failed, remaining: failed.length });
}
