import { KeyringError } from '../crypto/sealed-secrets';
import { privateUpstreamsAllowed, upstreamUrlProblem } from '../gateway/upstream-url';
import { json, restError } from '../http/responses';
import { readBody } from '../admin/request-body';
import { AlertRuleCreateSchema, AlertRulePatchSchema, MAX_ALERT_RULES } from './alert-model';
import { alertsStub } from './alerts-object';

/**
 * Alert rules of a tenant (`/admin/api/tenants/<t>/alerts`): the operator or the tenant's own
 * admins, routed and audited (`admin.alert.create|update|delete|evaluate`) by the admin router,
 * read-only while the tenant is suspended like every other route. The signing secret is in the
 * creation answer only.
 */

const notFound = () => restError(404, 'not_found', 'Alert rule not found');

function webhookRefusal(env: Env, url: string | undefined): Response | null {
  if (url === undefined) return null;
  const problem = upstreamUrlProblem(url, privateUpstreamsAllowed(env));
  return problem ? restError(400, 'url_refused', `webhookUrl: ${problem}`) : null;
}

/** `POST .../alerts`: 201 with the rule and its signing secret (shown once). */
export async function createAlertRoute(request: Request, env: Env, tenantId: string): Promise<Response> {
  const body = await readBody(request, AlertRuleCreateSchema);
  if (body instanceof Response) return body;
  const refused = webhookRefusal(env, body.webhookUrl);
  if (refused) return refused;
  try {
    const created = await alertsStub(env, tenantId).create(tenantId, body);
    if (created === 'full') return restError(409, 'alert_limit', `A tenant may have at most ${MAX_ALERT_RULES} alert rules`);
    return json({ ...created.rule, secret: created.secret }, 201);
  } catch (error) {
    if (error instanceof KeyringError || String(error).includes('SMCP_ENCRYPTION_KEYS'))
      return restError(503, 'not_configured', 'Alert secrets cannot be stored: SMCP_ENCRYPTION_KEYS is missing or invalid');
    throw error;
  }
}

export async function listAlertsRoute(env: Env, tenantId: string): Promise<Response> {
  return json({ alerts: await alertsStub(env, tenantId).list() });
}

export async function getAlertRoute(env: Env, tenantId: string, id: string): Promise<Response> {
  const rule = await alertsStub(env, tenantId).get(id);
  return rule ? json(rule) : notFound();
}

export async function patchAlertRoute(request: Request, env: Env, tenantId: string, id: string): Promise<Response> {
  const body = await readBody(request, AlertRulePatchSchema);
  if (body instanceof Response) return body;
  const refused = webhookRefusal(env, body.webhookUrl);
  if (refused) return refused;
  const stub = alertsStub(env, tenantId);
  const existing = await stub.get(id);
  if (!existing) return notFound();
  const threshold = body.threshold ?? existing.threshold;
  if ((existing.metric === 'error_rate' || existing.metric === 'rate_limited_share') && threshold > 1)
    return restError(400, 'invalid_request', 'threshold: a rate threshold is a fraction between 0 and 1');
  const rule = await stub.patch(id, body);
  return rule ? json(rule) : notFound();
}

export async function deleteAlertRoute(env: Env, tenantId: string, id: string): Promise<Response> {
  return (await alertsStub(env, tenantId).remove(id)) ? new Response(null, { status: 204 }) : notFound();
}

/** `POST .../alerts/evaluate`: evaluate now rather than at the next minute (and send what is due). */
export async function evaluateAlertsRoute(env: Env, tenantId: string): Promise<Response> {
  return json(await alertsStub(env, tenantId).evaluate());
}
