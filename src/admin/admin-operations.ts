import { z } from 'zod';
import { SERVERS } from '../../servers/registry';
import { forgetRefusals } from '../limits/deny-cache';
import { KeyLimitsPatchSchema, LimitsPatchSchema, type KeyLimitsPatch, type LimitsPatch } from '../limits/tenant-limits';
import { log } from '../observability/log';
import { revokeUserGrants } from '../oauth/grant-revocation';
import { createApiKey, revokeApiKey, rotateApiKey, setApiKeyLimits, type ApiKey } from '../tenancy/api-keys';
import { EmailSchema, PasswordSchema, RoleSchema, type Role, type Tenant, type TenantStatus, type User } from '../tenancy/model';
import { createUser, deleteUser, updateTenant, updateUser } from '../tenancy/tenant-store';
import type { Actor } from './admin-auth';

/**
 * The control-plane changes shared by the admin REST API and the dashboard: one set of input
 * rules (zod schemas), one permission rule per change and one log line per change, whichever
 * surface the request came through. Surfaces only translate their input and output, and each
 * records the change's audit event with its outcome (admin-api.ts, dashboard/dashboard-audit.ts).
 */

const serverNames = SERVERS.map((s) => s.name) as [string, ...string[]];
const Servers = z.array(z.enum(serverNames)).max(SERVERS.length);
const Name = z.string().trim().min(1).max(100);

export const CreateKeyInput = z.strictObject({ name: Name, role: RoleSchema, expiresInDays: z.number().int().min(1).max(3650).optional() });
/** `PATCH /admin/api/tenants/<t>/keys/<id>`: the key's own request limits (null = the tenant default). */
export const PatchKeyInput = z.strictObject({ limits: KeyLimitsPatchSchema });
export const RotateKeyInput = z.strictObject({
  graceHours: z
    .number()
    .min(0)
    .max(24 * 30)
    .optional(),
});
export const CreateUserInput = z.strictObject({ email: EmailSchema, password: PasswordSchema, role: RoleSchema });
export const PatchUserInput = z
  .strictObject({ role: RoleSchema.optional(), password: PasswordSchema.optional() })
  .refine((p) => p.role !== undefined || p.password !== undefined, { message: 'nothing to change' });
export const ServersInput = Servers;
export const PatchTenantInput = z
  .strictObject({
    name: Name.optional(),
    status: z.enum(['active', 'suspended']).optional(),
    servers: Servers.optional(),
    limits: LimitsPatchSchema.optional(),
  })
  .refine((p) => Object.keys(p).length > 0, { message: 'nothing to change' });

/** How an actor appears in the audit trail: `operator`, `key:<id>` or the signed-in user's id. */
export function actorUser(actor: Actor): string {
  if (actor.kind === 'operator') return 'operator';
  return actor.userId ?? `key:${actor.keyId ?? 'unknown'}`;
}

/** One structured log line per control-plane change (the audit event is the surface's job). */
function logChange(actor: Actor, tenant: string, action: string, resource: string): void {
  log('info', action, { tenant, actor: actor.kind, via: actor.via ?? 'api', resource });
}

/** Create an API key; the secret in the result exists only in this answer. */
export async function createKeyOp(env: Env, actor: Actor, tenantId: string, input: z.infer<typeof CreateKeyInput>): Promise<{ key: string; record: ApiKey }> {
  const expiresAt = input.expiresInDays ? Date.now() + input.expiresInDays * 86_400_000 : null;
  const created = await createApiKey(env.DB, { tenantId, name: input.name, role: input.role, expiresAt });
  logChange(actor, tenantId, 'admin.key.create', created.record.id);
  return created;
}

/** Revoke a key from the next request on; false when the tenant has no such key. */
export async function revokeKeyOp(env: Env, actor: Actor, tenantId: string, keyId: string): Promise<boolean> {
  if (!(await revokeApiKey(env.DB, tenantId, keyId))) return false;
  logChange(actor, tenantId, 'admin.key.revoke', keyId);
  return true;
}

/** Rotate a key; null when it is unknown, revoked, expired or already rotated. */
export async function rotateKeyOp(env: Env, actor: Actor, tenantId: string, keyId: string, graceHours: number) {
  const rotated = await rotateApiKey(env.DB, tenantId, keyId, graceHours);
  if (rotated) logChange(actor, tenantId, 'admin.key.rotate', keyId);
  return rotated;
}

/**
 * Set a key's own per-minute/hour/day request limits (tenant admins may: the tenant's own rate,
 * which only the operator sets, still bounds every key); null when the tenant has no such key.
 */
export async function setKeyLimitsOp(env: Env, actor: Actor, tenantId: string, keyId: string, limits: KeyLimitsPatch): Promise<ApiKey | null> {
  const key = await setApiKeyLimits(env.DB, tenantId, keyId, limits);
  if (key) logChange(actor, tenantId, 'admin.key.limits', keyId);
  if (key) forgetRefusals(tenantId); // a raised limit applies at once here (other isolates: deny-cache.ts)
  return key;
}

/** Add a user (throws ConflictError when the email is taken). */
export async function createUserOp(env: Env, actor: Actor, tenantId: string, input: z.infer<typeof CreateUserInput>): Promise<User> {
  const user = await createUser(env.DB, { tenantId, ...input });
  logChange(actor, tenantId, 'admin.user.create', user.id);
  return user;
}

/** Change a user's role and/or password (a new password also revokes the user's OAuth grants); null when the tenant has no such user. */
export async function updateUserOp(env: Env, actor: Actor, tenantId: string, userId: string, patch: { role?: Role; password?: string }): Promise<User | null> {
  const user = await updateUser(env.DB, tenantId, userId, patch);
  if (!user) return null;
  logChange(actor, tenantId, 'admin.user.update', userId);
  // A password change is how an admin answers a compromised account: its grants end too.
  if (patch.password !== undefined) await revokeUserGrants(env, userId);
  return user;
}

/** Delete a user of the tenant and revoke its OAuth grants; false when there is none. */
export async function deleteUserOp(env: Env, actor: Actor, tenantId: string, userId: string): Promise<boolean> {
  if (!(await deleteUser(env.DB, tenantId, userId))) return false;
  logChange(actor, tenantId, 'admin.user.delete', userId);
  await revokeUserGrants(env, userId);
  return true;
}

/** Whether the actor may make this tenant change: status, servers and limits belong to the operator. */
export function mayPatchTenant(actor: Actor, patch: { status?: TenantStatus; servers?: string[]; limits?: LimitsPatch }): boolean {
  return actor.kind === 'operator' || (patch.status === undefined && patch.servers === undefined && patch.limits === undefined);
}

/** Apply a tenant change the caller has checked with `mayPatchTenant`. */
export async function patchTenantOp(
  env: Env,
  actor: Actor,
  current: Tenant,
  patch: { name?: string; status?: TenantStatus; servers?: string[]; limits?: LimitsPatch },
): Promise<Tenant> {
  const tenant = await updateTenant(env.DB, current, patch);
  logChange(actor, current.id, 'admin.tenant.update', current.id);
  if (patch.limits) forgetRefusals(current.id); // a raised limit applies at once here (other isolates: deny-cache.ts)
  return tenant;
}
