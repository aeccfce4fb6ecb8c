import { json, restError } from '../http/responses';
import { ConflictError, listUsers } from '../tenancy/tenant-store';
import type { Actor } from './admin-auth';
import { CreateUserInput, createUserOp, deleteUserOp, PatchUserInput, updateUserOp } from './admin-operations';
import { readBody } from './request-body';

/** `POST /admin/api/tenants/<t>/users`. */
export async function createUserRoute(request: Request, env: Env, actor: Actor, tenantId: string): Promise<Response> {
  const body = await readBody(request, CreateUserInput);
  if (body instanceof Response) return body;
  try {
    return json(await createUserOp(env, actor, tenantId, body), 201);
  } catch (error) {
    if (error instanceof ConflictError) return restError(409, 'conflict', 'This tenant already has a user with this email');
    throw error;
  }
}

/** `GET /admin/api/tenants/<t>/users`. */
export async function listUsersRoute(env: Env, tenantId: string): Promise<Response> {
  return json({ users: await listUsers(env.DB, tenantId) });
}

/** `PATCH /admin/api/tenants/<t>/users/<id>`: role and/or password. Applies to open sessions at once. */
export async function patchUserRoute(request: Request, env: Env, actor: Actor, tenantId: string, userId: string): Promise<Response> {
  const body = await readBody(request, PatchUserInput);
  if (body instanceof Response) return body;
  const user = await updateUserOp(env, actor, tenantId, userId, body);
  if (!user) return restError(404, 'not_found', 'User not found');
  return json(user);
}

/** `DELETE /admin/api/tenants/<t>/users/<id>`: the user's tokens stop working on their next request. */
export async function deleteUserRoute(env: Env, actor: Actor, tenantId: string, userId: string): Promise<Response> {
  if (!(await deleteUserOp(env, actor, tenantId, userId))) return restError(404, 'not_found', 'User not found');
  return new Response(null, { status: 204 });
}
