import { z } from 'zod';
import { SERVERS } from '../../servers/registry';
import { adminToken } from '../config';
import { safeEqual } from '../crypto/secrets';
import { json, restError } from '../http/responses';
import { EmailSchema, PasswordSchema, RoleSchema, TenantIdSchema } from '../tenancy/model';
import { ConflictError, createTenant, createUser, getTenant } from '../tenancy/tenant-store';

const serverNames = SERVERS.map((s) => s.name) as [string, ...string[]];

const CreateTenantSchema = z.strictObject({
  id: TenantIdSchema,
  name: z.string().trim().min(1).max(100),
  servers: z.array(z.enum(serverNames)).max(SERVERS.length).default([]),
});

const CreateUserSchema = z.strictObject({ email: EmailSchema, password: PasswordSchema, role: RoleSchema });

const MAX_ADMIN_BODY = 64 * 1024;

async function readJson(request: Request): Promise<unknown | Response> {
  if (!request.headers.get('content-type')?.includes('application/json')) {
    return restError(415, 'unsupported_media_type', 'Content-Type must be application/json');
  }
  const text = await request.text();
  if (text.length > MAX_ADMIN_BODY) return restError(413, 'payload_too_large', `Body limit is ${MAX_ADMIN_BODY} bytes`);
  try {
    return JSON.parse(text);
  } catch {
    return restError(400, 'invalid_json', 'Body is not valid JSON');
  }
}

function validationError(error: z.ZodError): Response {
  const first = error.issues[0];
  const where = first?.path.length ? `${first.path.join('.')}: ` : '';
  return restError(400, 'invalid_request', `${where}${first?.message ?? 'invalid body'}`);
}

/**
 * The operator's admin API: enough to bootstrap tenants and users. It exists only when
 * `SMCP_ADMIN_TOKEN` is set (404 otherwise, so an unconfigured deployment shows no admin
 * surface), and every call needs that token as a bearer, compared in constant time.
 */
export async function handleAdminApi(request: Request, env: Env, path: string): Promise<Response> {
  const token = adminToken(env);
  if (!token) return restError(404, 'not_found', 'Not found');
  const presented = /^Bearer (.+)$/i.exec(request.headers.get('authorization') ?? '')?.[1] ?? '';
  if (!(await safeEqual(presented, token))) {
    return restError(401, 'unauthorized', 'A valid operator token is required', { 'WWW-Authenticate': 'Bearer realm="smcp-admin"' });
  }

  if (path === '/admin/api/tenants') {
    if (request.method !== 'POST') return restError(405, 'method_not_allowed', 'Use POST', { Allow: 'POST' });
    const body = await readJson(request);
    if (body instanceof Response) return body;
    const parsed = CreateTenantSchema.safeParse(body);
    if (!parsed.success) return validationError(parsed.error);
    try {
      return json(await createTenant(env.DB, parsed.data), 201);
    } catch (error) {
      if (error instanceof ConflictError) return restError(409, 'conflict', 'A tenant with this id already exists');
      throw error;
    }
  }

  const users = /^\/admin\/api\/tenants\/([^/]+)\/users$/.exec(path);
  if (users?.[1]) {
    if (request.method !== 'POST') return restError(405, 'method_not_allowed', 'Use POST', { Allow: 'POST' });
    const tenantId = TenantIdSchema.safeParse(users[1]);
    if (!tenantId.success || !(await getTenant(env.DB, tenantId.data))) return restError(404, 'not_found', 'Tenant not found');
    const body = await readJson(request);
    if (body instanceof Response) return body;
    const parsed = CreateUserSchema.safeParse(body);
    if (!parsed.success) return validationError(parsed.error);
    try {
      return json(await createUser(env.DB, { tenantId: tenantId.data, ...parsed.data }), 201);
    } catch (error) {
      if (error instanceof ConflictError) return restError(409, 'conflict', 'A user with this email already exists');
      throw error;
    }
  }
  return restError(404, 'not_found', 'Not found');
}
