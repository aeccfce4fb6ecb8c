import { z } from 'zod';
import type { TenantLimits } from '../limits/tenant-limits';

/**
 * The tenancy vocabulary shared by the control plane, the gate and the hosted servers, with the
 * zod schemas that guard every boundary where these values arrive from outside.
 */

export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{1,31}$/;
export const ROLES = ['admin', 'member', 'read-only'] as const;
export type Role = (typeof ROLES)[number];
export type TenantStatus = 'active' | 'suspended';

export interface Tenant {
  id: string;
  name: string;
  status: TenantStatus;
  servers: string[];
  /** Effective limits (platform defaults where the operator set none). */
  limits: TenantLimits;
  createdAt: number;
}

export interface User {
  id: string;
  tenantId: string;
  email: string;
  role: Role;
  createdAt: number;
}

/**
 * A tenant's storage namespace: its id for the first incarnation (generation 0, so data written
 * before generations existed stays where it is), `<id>.g<n>` after the id was deleted and created
 * again n times. Every store (KV prefix, R2 prefix, SQL database object) is keyed by it, so a
 * re-created tenant starts empty the moment it exists, whatever the purge of the old data has done.
 */
export const STORAGE_NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9-]{1,31}(\.g[1-9][0-9]{0,8})?$/;

/** The storage namespace of a tenant incarnation (see STORAGE_NAMESPACE_PATTERN). */
export function storageNamespace(tenantId: string, generation = 0): string {
  return generation > 0 ? `${tenantId}.g${generation}` : tenantId;
}

export const TenantIdSchema = z.string().regex(TENANT_ID_PATTERN, 'tenant id must match ^[a-z0-9][a-z0-9-]{1,31}$');
export const RoleSchema = z.enum(ROLES);
/**
 * Emails as stored and looked up: Unicode NFKC (so compatibility forms of one address are one
 * address), trimmed, lower case, then validated. Unique per tenant, not across the platform.
 */
export const EmailSchema = z
  .string()
  .transform((e) => e.normalize('NFKC'))
  .pipe(z.string().trim().toLowerCase().max(254).email());

/**
 * Passwords: at least 12 characters with at least three of lower case, upper case, digits and
 * symbols, and at most 256 (PBKDF2 cost grows with length).
 */
export const PasswordSchema = z
  .string()
  .min(12, 'password must have at least 12 characters')
  .max(256, 'password must have at most 256 characters')
  .refine((p) => [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(p)).length >= 3, {
    message: 'password must mix at least three of: lower case, upper case, digits, symbols',
  });
