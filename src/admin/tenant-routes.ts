import { z } from 'zod';
import { json, restError } from '../http/responses';
import { log } from '../observability/log';
import { TenantIdSchema, type Tenant } from '../tenancy/model';
import { ConflictError, createTenant, deleteTenant, listTenants } from '../tenancy/tenant-store';
import type { Actor } from './admin-auth';
import { mayPatchTenant, PatchTenantInput, patchTenantOp, ServersInput } from './admin-operations';
import { readBody } from './request-body';
import { purgeRetiredTenants } from './tenant-purge';

const CreateTenant = z.strictObject({ id: TenantIdSchema, name: z.string().trim().min(1).max(100), servers: ServersInput.default([]) });

const operatorOnly = () => restError(403, 'forbidden', 'Only the platform operator may do this');

/** `POST /admin/api/tenants` (operator). */
export async function createTenantRoute(request: Request, env: Env, actor: Actor): Promise<Response> {
  if (actor.kind !== 'operator') return operatorOnly();
  const body = await readBody(request, CreateTenant);
  if (body instanceof Response) return body;
  try {
    const tenant = await createTenant(env.DB, body);
    log('info', 'admin.tenant.created', { tenant: tenant.id, actor: actor.kind });
    return json(tenant, 201);
  } catch (error) {
    if (error instanceof ConflictError) return restError(409, 'conflict', 'A tenant with this id already exists');
    throw error;
  }
}

/** `GET /admin/api/tenants` (operator): every tenant. */
export async function listTenantsRoute(env: Env, actor: Actor): Promise<Response> {
  if (actor.kind !== 'operator') return operatorOnly();
  return json({ tenants: await listTenants(env.DB) });
}

/** `GET /admin/api/tenants/<id>` (the router has loaded the tenant and checked access). */
export async function getTenantRoute(tenant: Tenant): Promise<Response> {
  return json(tenant);
}

/** `PATCH /admin/api/tenants/<id>`: tenant admins may rename; status and servers are the operator's. */
export async function patchTenantRoute(request: Request, env: Env, actor: Actor, current: Tenant): Promise<Response> {
  const body = await readBody(request, PatchTenantInput);
  if (body instanceof Response) return body;
  if (!mayPatchTenant(actor, body)) return operatorOnly();
  return json(await patchTenantOp(env, actor, current, body));
}

/**
 * `DELETE /admin/api/tenants/<id>` (operator): everything the tenant owned. Its credentials and
 * control-plane rows go at once (and a tenant created with this id again starts empty); its stored
 * data is purged now, and by the daily cron if this run could not finish (tenant-purge.ts).
 */
export async function deleteTenantRoute(env: Env, actor: Actor, tenantId: string): Promise<Response> {
  if (actor.kind !== 'operator') return operatorOnly();
  if (!(await deleteTenant(env.DB, tenantId))) return restError(404, 'not_found', 'Tenant not found');
  log('info', 'admin.tenant.deleted', { tenant: tenantId, actor: actor.kind });
  await purgeRetiredTenants(env, tenantId);
  return new Response(null, { status: 204 });
}

/** Validate a tenant id from the path (invalid ones are simply "not found"). */
export function tenantIdFrom(segment: string): string | null {
  return TenantIdSchema.safeParse(segment).success ? segment : null;
}
