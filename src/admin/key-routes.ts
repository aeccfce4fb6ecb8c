import { json, restError } from '../http/responses';
import { DEFAULT_ROTATION_GRACE_HOURS } from '../tenancy/api-keys';
import { keysWithUsage } from './key-usage';
import type { Actor } from './admin-auth';
import { CreateKeyInput, createKeyOp, PatchKeyInput, revokeKeyOp, RotateKeyInput, rotateKeyOp, setKeyLimitsOp } from './admin-operations';
import { readBody } from './request-body';

/** `POST /admin/api/tenants/<t>/keys`: 201 with the key, shown this once. */
export async function createKeyRoute(request: Request, env: Env, actor: Actor, tenantId: string): Promise<Response> {
  const body = await readBody(request, CreateKeyInput);
  if (body instanceof Response) return body;
  const { key, record } = await createKeyOp(env, actor, tenantId, body);
  return json({ ...record, key }, 201);
}

/** `GET /admin/api/tenants/<t>/keys`: metadata, own limits and request counts (`usage`), never secrets. */
export async function listKeysRoute(env: Env, tenantId: string): Promise<Response> {
  return json({ keys: await keysWithUsage(env, tenantId) });
}

/** `PATCH /admin/api/tenants/<t>/keys/<id>` `{ limits: { perMinute?, perHour?, perDay? } }` (null = tenant default). */
export async function patchKeyRoute(request: Request, env: Env, actor: Actor, tenantId: string, keyId: string): Promise<Response> {
  const body = await readBody(request, PatchKeyInput);
  if (body instanceof Response) return body;
  const key = await setKeyLimitsOp(env, actor, tenantId, keyId, body.limits);
  if (!key) return restError(404, 'not_found', 'Key not found');
  return json(key);
}

/** `DELETE /admin/api/tenants/<t>/keys/<id>`: revoked from the next request on. */
export async function revokeKeyRoute(env: Env, actor: Actor, tenantId: string, keyId: string): Promise<Response> {
  if (!(await revokeKeyOp(env, actor, tenantId, keyId))) return restError(404, 'not_found', 'Key not found');
  return new Response(null, { status: 204 });
}

/** `POST /admin/api/tenants/<t>/keys/<id>/rotate` `{ graceHours? }` (default 24): a new key; the old one expires after the grace. */
export async function rotateKeyRoute(request: Request, env: Env, actor: Actor, tenantId: string, keyId: string): Promise<Response> {
  const hasBody = (request.headers.get('content-length') ?? '0') !== '0' || request.headers.has('content-type');
  const body = hasBody ? await readBody(request, RotateKeyInput) : {};
  if (body instanceof Response) return body;
  const rotated = await rotateKeyOp(env, actor, tenantId, keyId, body.graceHours ?? DEFAULT_ROTATION_GRACE_HOURS);
  if (!rotated) return restError(404, 'not_found', 'Key not found, revoked, expired or already rotated');
  return json({ ...rotated.record, key: rotated.key, previous: { id: keyId, expiresAt: rotated.oldExpiresAt } }, 201);
}
