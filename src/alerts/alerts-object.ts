import { DurableObject } from 'cloudflare:workers';
import { recordAudit } from '../audit/record';
import { keyringFrom, open, seal } from '../crypto/sealed-secrets';
import { log } from '../observability/log';
import { getTenant } from '../tenancy/tenant-store';
import { alertSecretContext, MAX_ALERT_RULES, type AlertPayload, type AlertRule, type AlertRuleCreate, type AlertRulePatch } from './alert-model';
import { deliver, MAX_ATTEMPTS, retryDelayMs } from './alert-delivery';
import { crossed, ruleValues } from './alert-evaluate';

/** Evaluation period: every minute while the tenant has enabled rules. */
export const EVALUATE_EVERY_MS = 60_000;

interface StoredRule extends AlertRule {
  sealedSecret: string;
}

/** A webhook delivery waiting for its (next) attempt. Deliveries of one rule go out in order. */
interface Delivery {
  id: string;
  ruleId: string;
  body: string;
  attempts: number;
  nextAt: number;
  createdAt: number;
}

/** The alerts object of `tenant` (one per tenant). */
export function alertsStub(env: Env, tenant: string): DurableObjectStub<TenantAlerts> {
  return env.TENANT_ALERTS.get(env.TENANT_ALERTS.idFromName(tenant));
}

const view = ({ sealedSecret: _s, ...rule }: StoredRule): AlertRule => rule;
const randomHex = (bytes: number) => [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');

/**
 * One tenant's alert rules, their firing state and pending webhook deliveries, with an alarm
 * that evaluates the rules every minute from the tenant's metrics rollups and delivers with
 * back-off. Nothing here is on the MCP request path. State changes and the delivery they cause
 * are written in one storage call, so a crossing is delivered once (and once more on recovery),
 * however evaluations interleave.
 */
export class TenantAlerts extends DurableObject<Env> {
  /** Evaluations and deliveries run one at a time, so two never see the same transition. */
  private chain: Promise<unknown> = Promise.resolve();

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  async list(): Promise<AlertRule[]> {
    const rules = await this.ctx.storage.list<StoredRule>({ prefix: 'rule:' });
    return [...rules.values()].sort((a, b) => a.createdAt - b.createdAt).map(view);
  }

  async get(id: string): Promise<AlertRule | null> {
    const rule = await this.ctx.storage.get<StoredRule>(`rule:${id}`);
    return rule ? view(rule) : null;
  }

  /** Create a rule; the signing secret is returned here only, and stored sealed. */
  async create(tenant: string, input: AlertRuleCreate): Promise<{ rule: AlertRule; secret: string } | 'full'> {
    await this.ctx.storage.put('tenant', tenant);
    if ((await this.ctx.storage.list({ prefix: 'rule:' })).size >= MAX_ALERT_RULES) return 'full';
    const id = `al_${randomHex(8)}`;
    const secret = `whsec_${randomHex(32)}`;
    const sealedSecret = await seal(await keyringFrom(this.env), secret, alertSecretContext(tenant, id));
    const rule: StoredRule = { ...input, id, createdAt: Date.now(), state: 'ok', lastValue: null, lastEvaluatedAt: null, sealedSecret };
    await this.ctx.storage.put(`rule:${id}`, rule);
    await this.schedule();
    return { rule: view(rule), secret };
  }

  async patch(id: string, patch: AlertRulePatch): Promise<AlertRule | null> {
    return this.serial(async () => {
      const rule = await this.ctx.storage.get<StoredRule>(`rule:${id}`);
      if (!rule) return null;
      const next: StoredRule = { ...rule, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) };
      await this.ctx.storage.put(`rule:${id}`, next);
      await this.schedule();
      return view(next);
    });
  }

  /** Delete a rule and its pending deliveries. */
  async remove(id: string): Promise<boolean> {
    return this.serial(async () => {
      if (!(await this.ctx.storage.get(`rule:${id}`))) return false;
      const pending = [...(await this.ctx.storage.list<Delivery>({ prefix: 'delivery:' })).entries()].filter(([, d]) => d.ruleId === id).map(([k]) => k);
      await this.ctx.storage.delete([`rule:${id}`, ...pending]);
      return true;
    });
  }

  /** Evaluate every enabled rule now and send what is due (the alarm does this every minute; the admin API on request). */
  async evaluate(): Promise<{ evaluated: number; transitions: number; delivered: number }> {
    const result = await this.serial(() => this.evaluateRules());
    const delivered = await this.serial(() => this.deliverDue());
    await this.schedule();
    return { ...result, delivered };
  }

  /** Forget everything (the tenant was deleted). */
  async reset(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }

  override async alarm(): Promise<void> {
    const tenant = await this.ctx.storage.get<string>('tenant');
    if (!tenant || !(await getTenant(this.env.DB, tenant))) return this.reset();
    const due = (await this.ctx.storage.get<number>('nextEvaluation')) ?? 0;
    if (Date.now() >= due) await this.serial(() => this.evaluateRules());
    await this.serial(() => this.deliverDue());
    await this.schedule();
  }

  private async evaluateRules(): Promise<{ evaluated: number; transitions: number }> {
    const tenantId = await this.ctx.storage.get<string>('tenant');
    const now = Date.now();
    await this.ctx.storage.put('nextEvaluation', now + EVALUATE_EVERY_MS);
    const tenant = tenantId ? await getTenant(this.env.DB, tenantId) : null;
    // A suspended tenant's rules keep their state and are not evaluated until it is resumed.
    if (!tenant || tenant.status !== 'active') return { evaluated: 0, transitions: 0 };
    const rules = [...(await this.ctx.storage.list<StoredRule>({ prefix: 'rule:' })).values()].filter((r) => r.enabled);
    if (rules.length === 0) return { evaluated: 0, transitions: 0 };
    const values = await ruleValues(this.env, tenant.id, tenant.createdAt, rules, now);
    let transitions = 0;
    for (const rule of rules) {
      const value = values.get(rule.id) ?? null;
      const state = crossed(value, rule.threshold) ? 'firing' : 'ok';
      const next: StoredRule = { ...rule, state, lastValue: value, lastEvaluatedAt: now };
      if (state === rule.state) {
        await this.ctx.storage.put(`rule:${rule.id}`, next);
        continue;
      }
      transitions++;
      const payload: AlertPayload = {
        id: `evt_${randomHex(12)}`,
        type: state === 'firing' ? 'alert.firing' : 'alert.resolved',
        tenant: tenant.id,
        rule: { id: rule.id, server: rule.server, metric: rule.metric, threshold: rule.threshold, windowMinutes: rule.windowMinutes },
        value,
        time: now,
      };
      const delivery: Delivery = { id: payload.id, ruleId: rule.id, body: JSON.stringify(payload), attempts: 0, nextAt: now, createdAt: now };
      // The new state and its delivery in one write: never a transition without its alert, nor twice.
      await this.ctx.storage.put({ [`rule:${rule.id}`]: next, [`delivery:${String(now).padStart(15, '0')}:${payload.id}`]: delivery });
      await recordAudit(this.env, {
        tenant: tenant.id,
        action: payload.type,
        result: 'ok',
        user: 'platform',
        resource: rule.id,
        details: { server: rule.server, metric: rule.metric, threshold: rule.threshold, value },
      });
    }
    return { evaluated: rules.length, transitions };
  }

  /** Attempt every delivery that is due, oldest first, one per rule at a time (a rule's alerts arrive in order). */
  private async deliverDue(): Promise<number> {
    const tenant = (await this.ctx.storage.get<string>('tenant')) ?? '';
    const pending = await this.ctx.storage.list<Delivery>({ prefix: 'delivery:' });
    const blocked = new Set<string>();
    let delivered = 0;
    for (const [key, d] of pending) {
      if (blocked.has(d.ruleId)) continue;
      blocked.add(d.ruleId);
      if (d.nextAt > Date.now()) continue;
      const rule = await this.ctx.storage.get<StoredRule>(`rule:${d.ruleId}`);
      if (!rule) {
        await this.ctx.storage.delete(key);
        continue;
      }
      const secret = await open(await keyringFrom(this.env), rule.sealedSecret, alertSecretContext(tenant, rule.id));
      const outcome = await deliver(this.env, rule.webhookUrl, secret, d.body);
      const attempts = d.attempts + 1;
      const details = { delivery: d.id, attempt: attempts, ...(outcome.ok ? { status: outcome.status } : { error: outcome.error }) };
      if (outcome.ok || !outcome.retry || attempts >= MAX_ATTEMPTS) {
        await this.ctx.storage.delete(key);
        if (outcome.ok) delivered++;
        else log('warn', 'alert.delivery_failed', { tenant, rule: rule.id, attempts });
        blocked.delete(d.ruleId);
      } else {
        await this.ctx.storage.put(key, { ...d, attempts, nextAt: Date.now() + retryDelayMs(this.env, attempts) });
      }
      await recordAudit(this.env, {
        tenant,
        action: 'alert.delivery',
        result: outcome.ok ? 'ok' : 'error',
        user: 'platform',
        resource: rule.id,
        details: { server: rule.server, ...details, final: outcome.ok || !outcome.retry || attempts >= MAX_ATTEMPTS },
      });
    }
    return delivered;
  }

  /** Alarm at the next evaluation (only while some rule is enabled) or the next due delivery, whichever is first. */
  private async schedule(): Promise<void> {
    const rules = [...(await this.ctx.storage.list<StoredRule>({ prefix: 'rule:' })).values()];
    const deliveries = [...(await this.ctx.storage.list<Delivery>({ prefix: 'delivery:' })).values()];
    const times: number[] = deliveries.map((d) => d.nextAt);
    if (rules.some((r) => r.enabled)) times.push((await this.ctx.storage.get<number>('nextEvaluation')) ?? Date.now() + EVALUATE_EVERY_MS);
    if (times.length === 0) return this.ctx.storage.deleteAlarm();
    await this.ctx.storage.setAlarm(Math.max(Math.min(...times), Date.now() + 1));
  }
}
