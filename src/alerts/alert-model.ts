import { z } from 'zod';

/**
 * Alert rules: what a tenant admin may watch, and the one schema every boundary (admin API, CLI,
 * dashboard, the alerts object) validates against. A rule watches one metric of one server or
 * upstream of the tenant over a trailing window, and is "firing" while the value crosses the
 * threshold; each transition (crossing, recovery) is one webhook delivery.
 */
export const ALERT_METRICS = ['p95_latency_ms', 'p99_latency_ms', 'error_rate', 'rate_limited_share', 'breaker_open', 'replica_down'] as const;
export type AlertMetric = (typeof ALERT_METRICS)[number];

/** Rules per tenant: each is evaluated every minute, so the cost of a tenant's alarm stays bounded. */
export const MAX_ALERT_RULES = 20;

const ruleFields = {
  /** Server or upstream name this rule watches (the `server` of its audit events and metrics). */
  server: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a server or upstream name'),
  metric: z.enum(ALERT_METRICS),
  /**
   * Crossed when the value is above it: milliseconds for latencies, a fraction 0..1 for rates,
   * and ignored (any open breaker / down replica crosses) for the two state metrics.
   */
  threshold: z.number().finite().min(0).max(3_600_000).default(0),
  /** Trailing window the metric is read over, in minutes. */
  windowMinutes: z.number().int().min(1).max(60).default(5),
  /** Rates are not judged on fewer requests than this (one error in one request is not a 100 % error rate worth a page). */
  minRequests: z.number().int().min(1).max(1_000_000).default(1),
  webhookUrl: z.string().url().max(2048),
  enabled: z.boolean().default(true),
};

export const AlertRuleCreateSchema = z
  .object(ruleFields)
  .strict()
  .superRefine((r, ctx) => {
    if ((r.metric === 'error_rate' || r.metric === 'rate_limited_share') && r.threshold > 1) {
      ctx.addIssue({ code: 'custom', path: ['threshold'], message: 'a rate threshold is a fraction between 0 and 1' });
    }
  });
export type AlertRuleCreate = z.infer<typeof AlertRuleCreateSchema>;

export const AlertRulePatchSchema = z
  .object({
    threshold: ruleFields.threshold.optional(),
    windowMinutes: ruleFields.windowMinutes.optional(),
    minRequests: ruleFields.minRequests.optional(),
    webhookUrl: ruleFields.webhookUrl.optional(),
    enabled: z.boolean().optional(),
  })
  .strict();
export type AlertRulePatch = z.infer<typeof AlertRulePatchSchema>;

/** A stored rule (the signing secret is sealed and never part of a view). */
export interface AlertRule extends AlertRuleCreate {
  id: string;
  createdAt: number;
  /** `firing` after a crossing was detected, `ok` otherwise. */
  state: 'ok' | 'firing';
  /** Value seen at the last evaluation (null: no data). */
  lastValue: number | null;
  lastEvaluatedAt: number | null;
}

/** The JSON body POSTed to the webhook. */
export interface AlertPayload {
  id: string;
  type: 'alert.firing' | 'alert.resolved';
  tenant: string;
  rule: { id: string; server: string; metric: AlertMetric; threshold: number; windowMinutes: number };
  value: number | null;
  time: number;
}

/** Sealing context of a rule's signing secret: a sealed value copied to another rule or tenant fails to open. */
export const alertSecretContext = (tenant: string, ruleId: string) => `alert:${tenant}:${ruleId}`;
