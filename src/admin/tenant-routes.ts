import { z } from 'zod';
import { SERVERS } from '../../servers/registry';
import { recordAudit } from '../audit/audit-trail';
import { json, restError } from '../http/responses';
import { log } from '../observability/log';
import { LimitsPatchSchema } from '../limits/tenant-limits';
import { TenantIdSchema, type Tenant } from '../tenancy/model';
import { ConflictError, createTenant, deleteTenant, listTenants, updateTenant } from '../tenancy/tenant-store';
import type { Actor } from './admin-auth';
import { readBody } from './request-body';

const serverNames = SERVERS.map((s) => s.name) as [string, ...string[]];
const Servers = z.array(z.enum(serverNames)).max(SERVERS.length);

const CreateTenant = z.strictObject({ id: TenantIdSchema, name: z.string().trim().min(1).max(100), servers: Servers.default([]) });
const PatchTenant = z
  .strictObject({
    name: z.string().trim().min(1).max(100).optional(),
    status: z.enum(['active', 'suspended']).optional(),
    servers: Servers.optional(),
    limits: LimitsPatchSchema.optional(),
  })
  .refine((p) => Object.keys(p).length > 0, { message: 'nothing to change' });

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

/** `PATCH /admin/api/tenants/<id>`: tenant admins may rename; status, servers and limits are the operator's. */
export async function patchTenantRoute(request: Request, env: Env, actor: Actor, current: Tenant): Promise<Response> {
  const body = await readBody(request, PatchTenant);
  if (body instanceof Response) return body;
  if (actor.kind !== 'operator' && (body.status !== undefined || body.servers !== undefined || body.limits !== undefined)) return operatorOnly();
  const tenant = await updateTenant(env.DB, current, body);
  log('info', 'admin.tenant.updated', { tenant: tenant.id, actor: actor.kind, fields: Object.keys(body).join(',') });
  if (body.limits) await recordAudit(env, { tenant: tenant.id, action: 'admin.tenant.limits', result: 'ok', user: actor.kind, resource: tenant.id, details: { ...tenant.limits } });
  return json(tenant);
}

/** `DELETE /admin/api/tenants/<id>` (operator): the tenant, its users and keys. */
export async function deleteTenantRoute(env: Env, actor: Actor, tenantId: string): Promise<Response> {
  if (actor.kind !== 'operator') return operatorOnly();
  if (!(await deleteTenant(env.DB, tenantId))) return restError(404, 'not_found', 'Tenant not found');
  log('info', 'admin.tenant.deleted', { tenant: tenantId, actor: actor.kind });
  return new Response(null, { status: 204 });
}

/** Validate a tenant id from the path (invalid ones are simply "not found"). */
export function tenantIdFrom(segment: string): string | null {
  return TenantIdSchema.safeParse(segment).success ? segment : null;
}
