import { json, restError } from '../http/responses';
import { DeployInput, deployModule, isRefusal, MAX_DEPLOY_BODY_BYTES, RollbackInput, rollbackModule, serverView } from '../tenant-servers/deploy';
import { deleteTenantServer, getTenantServer, listTenantServers, listVersions } from '../tenant-servers/module-store';
import { readBody } from './request-body';

/**
 * Tenant-deployed servers (`/admin/api/tenants/<t>/servers`): the operator or the tenant's own
 * admins deploy, list, inspect versions, roll back and delete. Every change is audited by the admin
 * router (`admin.tenant_server.deploy|rollback|delete`), refusals included with their error code.
 */

const notFound = () => restError(404, 'not_found', 'Server not found');

/** `PUT .../servers/<name>` `{ module, title?, description?, egress? }`: 201 with the new version. */
export async function deployServerRoute(request: Request, env: Env, tenantId: string, name: string): Promise<Response> {
  const body = await readBody(request, DeployInput, MAX_DEPLOY_BODY_BYTES);
  if (body instanceof Response) return body;
  const deployed = await deployModule(env, tenantId, name, body);
  if (isRefusal(deployed)) return restError(deployed.status, deployed.code, deployed.message);
  return json(serverView(deployed, env), 201);
}

/** `GET .../servers`. */
export async function listServersRoute(env: Env, tenantId: string): Promise<Response> {
  return json({ servers: (await listTenantServers(env.DB, tenantId)).map((s) => serverView(s, env)) });
}

/** `GET .../servers/<name>`. */
export async function getServerRoute(env: Env, tenantId: string, name: string): Promise<Response> {
  const record = await getTenantServer(env.DB, tenantId, name);
  return record ? json(serverView(record, env)) : notFound();
}

/** `GET .../servers/<name>/versions`: every stored version, newest first, the active one marked. */
export async function listVersionsRoute(env: Env, tenantId: string, name: string): Promise<Response> {
  if (!(await getTenantServer(env.DB, tenantId, name))) return notFound();
  return json({ name, versions: await listVersions(env.DB, tenantId, name) });
}

/** `POST .../servers/<name>/rollback` `{ version }`: make a stored version active again. */
export async function rollbackServerRoute(request: Request, env: Env, tenantId: string, name: string): Promise<Response> {
  const body = await readBody(request, RollbackInput);
  if (body instanceof Response) return body;
  const result = await rollbackModule(env, tenantId, name, body.version);
  return isRefusal(result) ? restError(result.status, result.code, result.message) : json(serverView(result, env));
}

/** `DELETE .../servers/<name>`: the server and all its versions. */
export async function deleteServerRoute(env: Env, tenantId: string, name: string): Promise<Response> {
  return (await deleteTenantServer(env.DB, tenantId, name)) ? new Response(null, { status: 204 }) : notFound();
}
