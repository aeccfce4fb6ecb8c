import { z } from 'zod';
import { json, restError } from '../http/responses';
import { log } from '../observability/log';
import { EmailSchema, PasswordSchema, RoleSchema } from '../tenancy/model';
import { ConflictError, createUser, deleteUser, listUsers, updateUser } from '../tenancy/tenant-store';
import type { Actor } from './admin-auth';
import { readBody } from './request-body';

const CreateUser = z.strictObject({ email: EmailSchema, password: PasswordSchema, role: RoleSchema });
const PatchUser = z
  .strictObject({ role: RoleSchema.optional(), password: PasswordSchema.optional() })
  .refine((p) => p.role !== undefined || p.password !== undefined, { message: 'nothing to change' });

/** `POST /admin/api/tenants/<t>/users`. */
export async function createUserRoute(request: Request, env: Env, actor: Actor, tenantId: string): Promise<Response> {
  const body = await readBody(request, CreateUser);
  if (body instanceof Response) return body;
  try {
    const user = await createUser(env.DB, { tenantId, ...body });
    log('info', 'admin.user.created', { tenant: tenantId, actor: actor.kind, user: user.id, role: user.role });
    return json(user, 201);
  } catch (error) {
    if (error instanceof ConflictError) return restError(409, 'conflict', 'A user with this email already exists');
    throw error;
  }
}

/** `GET /admin/api/tenants/<t>/users`. */
export async function listUsersRoute(env: Env, tenantId: string): Promise<Response> {
  return json({ users: await listUsers(env.DB, tenantId) });
}

/** `PATCH /admin/api/tenants/<t>/users/<id>`: role and/or password. Applies to open sessions at once. */
export async function patchUserRoute(request: Request, env: Env, actor: Actor, tenantId: string, userId: string): Promise<Response> {
  const body = await readBody(request, PatchUser);
  if (body instanceof Response) return body;
  const user = await updateUser(env.DB, tenantId, userId, body);
  if (!user) return restError(404, 'not_found', 'User not found');
  log('info', 'admin.user.updated', { tenant: tenantId, actor: actor.kind, user: userId, fields: Object.keys(body).join(',') });
  return json(user);
}

/** `DELETE /admin/api/tenants/<t>/users/<id>`: the user's tokens stop working on their next request. */
export async function deleteUserRoute(env: Env, actor: Actor, tenantId: string, userId: string): Promise<Response> {
  if (!(await deleteUser(env.DB, tenantId, userId))) return restError(404, 'not_found', 'User not found');
  log('info', 'admin.user.deleted', { tenant: tenantId, actor: actor.kind, user: userId });
  return new Response(null, { status: 204 });
}
