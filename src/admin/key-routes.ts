import { z } from 'zod';
import { json, restError } from '../http/responses';
import { log } from '../observability/log';
import { createApiKey, DEFAULT_ROTATION_GRACE_HOURS, listApiKeys, revokeApiKey, rotateApiKey } from '../tenancy/api-keys';
import { RoleSchema } from '../tenancy/model';
import type { Actor } from './admin-auth';
import { readBody } from './request-body';

const CreateKey = z.strictObject({
  name: z.string().trim().min(1).max(100),
  role: RoleSchema,
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});
const RotateKey = z.strictObject({ graceHours: z.number().min(0).max(24 * 30).optional() });

/** `POST /admin/api/tenants/<t>/keys`: 201 with the key, shown this once. */
export async function createKeyRoute(request: Request, env: Env, actor: Actor, tenantId: string): Promise<Response> {
  const body = await readBody(request, CreateKey);
  if (body instanceof Response) return body;
  const expiresAt = body.expiresInDays ? Date.now() + body.expiresInDays * 86_400_000 : null;
  const { key, record } = await createApiKey(env.DB, { tenantId, name: body.name, role: body.role, expiresAt });
  log('info', 'admin.key.created', { tenant: tenantId, actor: actor.kind, key: record.id, role: record.role });
  return json({ ...record, key }, 201);
}

/** `GET /admin/api/tenants/<t>/keys`: metadata only, never secrets. */
export async function listKeysRoute(env: Env, tenantId: string): Promise<Response> {
  return json({ keys: await listApiKeys(env.DB, tenantId) });
}

/** `DELETE /admin/api/tenants/<t>/keys/<id>`: revoked from the next request on. */
export async function revokeKeyRoute(env: Env, actor: Actor, tenantId: string, keyId: string): Promise<Response> {
  if (!(await revokeApiKey(env.DB, tenantId, keyId))) return restError(404, 'not_found', 'Key not found');
  log('info', 'admin.key.revoked', { tenant: tenantId, actor: actor.kind, key: keyId });
  return new Response(null, { status: 204 });
}

/** `POST /admin/api/tenants/<t>/keys/<id>/rotate` `{ graceHours? }` (default 24): a new key; the old one expires after the grace. */
export async function rotateKeyRoute(request: Request, env: Env, actor: Actor, tenantId: string, keyId: string): Promise<Response> {
  const hasBody = (request.headers.get('content-length') ?? '0') !== '0' || request.headers.has('content-type');
  const body = hasBody ? await readBody(request, RotateKey) : {};
  if (body instanceof Response) return body;
  const rotated = await rotateApiKey(env.DB, tenantId, keyId, body.graceHours ?? DEFAULT_ROTATION_GRACE_HOURS);
  if (!rotated) return restError(404, 'not_found', 'Key not found, revoked, expired or already rotated');
  log('info', 'admin.key.rotated', { tenant: tenantId, actor: actor.kind, key: keyId, replacement: rotated.record.id });
  return json({ ...rotated.record, key: rotated.key, previous: { id: keyId, expiresAt: rotated.oldExpiresAt } }, 201);
}
