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

export const TenantIdSchema = z.string().regex(TENANT_ID_PATTERN, 'tenant id must match ^[a-z0-9][a-z0-9-]{1,31}$');
export const RoleSchema = z.enum(ROLES);
export const EmailSchema = z.string().trim().toLowerCase().max(254).email();

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
