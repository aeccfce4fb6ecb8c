import { restError, rpcError, RpcCode } from '../http/responses';
import { auditLimitHit } from './limit-audit';
import type { LeaseSource } from './lease-budget';
import type { AdmitRequest, AdmitResult, LeaseRequest, LeaseResult, Liveness } from './tenant-limiter';

/**
 * The Worker-side entry to every limit: the Rate Limiting bindings (approximate, per Cloudflare
 * location) for per-IP limits, the TenantLimiter Durable Object (exact) for per-tenant and
 * per-credential limits and sign-in back-off, and the one way a limit answers: 429 with Retry-After,
 * audited as `limit.<which>` (coalesced per second, see limit-audit.ts).
 */

/** The exact limiter of a tenant (or of a sign-in back-off key). */
export function limiter(env: Env, name: string): DurableObjectStub<import('./tenant-limiter').TenantLimiter> {
  return env.TENANT_LIMITER.get(env.TENANT_LIMITER.idFromName(name));
}

export const tenantLimiterName = (tenantId: string) => `tenant:${tenantId}`;

/**
 * A tenant's limiter for the gate's admission: its stub is made only when a call is made (most
 * requests are admitted from this isolate's lease and make none), in the request that makes it.
 */
export class LazyLimiter implements LeaseSource {
  private stub?: DurableObjectStub<import('./tenant-limiter').TenantLimiter>;

  constructor(
    private readonly env: Env,
    private readonly name: string,
  ) {}

  lease(req: LeaseRequest): Promise<LeaseResult> {
    return this.limiter().lease(req);
  }

  admit(req: AdmitRequest): Promise<AdmitResult> {
    return this.limiter().admit(req);
  }

  giveBack(...args: Parameters<LeaseSource['giveBack']>): Promise<Liveness | void> {
    return this.limiter().giveBack(...args);
  }

  private limiter(): DurableObjectStub<import('./tenant-limiter').TenantLimiter> {
    return (this.stub ??= limiter(this.env, this.name));
  }
}

/** Period of every Rate Limiting binding in wrangler.jsonc; what Retry-After says when one refuses. */
export const BINDING_PERIOD_SECONDS = 60;

/** Approximate per-IP limit on an unauthenticated endpoint. True when within it. */
export async function withinIpRate(binding: RateLimit, request: Request): Promise<boolean> {
  const ip = clientIp(request);
  if (ip === undefined) return true;
  const { success } = await binding.limit({ key: ip });
  return success;
}

/**
 * The caller's IP as Cloudflare's edge reports it (`CF-Connecting-IP`, set by the edge and not
 * spoofable through it). Requests without one never came through the edge (service bindings,
 * the in-process test harness) and are not IP-limited.
 */
export function clientIp(request: Request): string | undefined {
  return request.headers.get('cf-connecting-ip') ?? undefined;
}

/** What was exceeded, for the 429 and its audit event. */
export interface LimitHit {
  /** Audited as `limit.<which>`: tenant_rpm, tenant_sessions, user_sessions, api_key, user, ip_register, ip_token, ip_signin, signin_account, signin_ip. */
  which: string;
  retryAfter: number;
  message: string;
  tenant?: string | null;
  user?: string;
  client?: string;
  server?: string;
  ip?: string;
}

const retryHeaders = (hit: LimitHit) => ({ 'Retry-After': String(Math.max(1, Math.ceil(hit.retryAfter))) });

/** 429 with a JSON-RPC error body (MCP routes), audited. */
export function rpcTooMany(env: Env, ctx: Pick<ExecutionContext, 'waitUntil'>, hit: LimitHit): Response {
  auditLimitHit(env, ctx, hit);
  return rpcError(429, RpcCode.ServerError, hit.message, retryHeaders(hit));
}

/** 429 with the REST error body, audited. */
export function restTooMany(env: Env, ctx: Pick<ExecutionContext, 'waitUntil'>, hit: LimitHit): Response {
  auditLimitHit(env, ctx, hit);
  return restError(429, 'rate_limited', hit.message, retryHeaders(hit));
}

/** Audit a limit hit answered in another shape (the sign-in page). */
export function auditLimit(env: Env, ctx: Pick<ExecutionContext, 'waitUntil'>, hit: LimitHit): void {
  auditLimitHit(env, ctx, hit);
}
