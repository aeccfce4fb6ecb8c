import { actorUser } from '../admin/admin-operations';
import type { AuditResult } from '../audit/audit-event';
import { recordAudit } from '../audit/record';
import type { PageContext } from './dashboard';

/**
 * The audit event of a control-plane change made through the dashboard: the same action names as
 * the admin API (`admin.key.create`, ...), the actor as `operator` or the signed-in user's id, and
 * `details.via = "dashboard"`. Awaited: a change is not reported done before it is recorded.
 */
export async function auditDashboardChange(
  c: PageContext,
  tenant: string,
  action: string,
  resource: string,
  result: AuditResult,
  details: Record<string, unknown> = {},
): Promise<void> {
  await recordAudit(c.env, {
    tenant,
    action,
    result,
    user: actorUser(c.actor),
    resource,
    ip: c.request.headers.get('cf-connecting-ip') ?? undefined,
    details: { via: 'dashboard', ...details },
  });
}
