import type { Tenant } from '../tenancy/model';
import type { AuditQuery } from './audit-query';

/**
 * The one rule for what a tenant's own views of the audit trail (REST, exports, dashboard) may
 * show: events filed under its id since this incarnation was created. A tenant deleted and created
 * again under the same id never sees its predecessor's trail; the operator still does, for its
 * retention, through the platform view (`GET /admin/api/audit?tenant=<id>`).
 */
export function scopeToTenant(query: AuditQuery, tenant: Pick<Tenant, 'id' | 'createdAt'>): AuditQuery {
  return { ...query, tenant: tenant.id, from: Math.max(query.from ?? 0, tenant.createdAt) };
}
