import { DurableObject } from 'cloudflare:workers';
import { recordAudit } from '../audit/record';
import { EraProbes, eraSummary } from './era-probes';
import { healthInterval, PAUSED_RECHECK_MS } from './health-schedule';
import { checkReplica } from './replica-health-check';
import { ReplicaFleet } from './replica-fleet';
import type { ReplicaHealth } from './replicas';
import { ResponseCache } from './response-cache';
import { storable, type CacheQuery, type CacheTicket } from './response-cache-model';
import { StoredBreaker } from './stored-breaker';
import { ToolCatalog } from './tool-catalog';
import type { ExposedTool } from './tool-view';
import { asFault, type UpstreamTarget } from './upstream-connection';
import { CredentialHeaders, openCredentials } from './upstream-credentials';
import { GatewayCode } from './upstream-errors';
import { UpstreamHost, type UpstreamKey, type UpstreamRefusal } from './upstream-host';
import type { UpstreamRecord, UpstreamSettings } from './upstream-model';
import { countHealthChecks, getUpstream } from './upstream-store';
import { privateUpstreamsAllowed } from './upstream-url';
import { getTenant } from '../tenancy/tenant-store';

export type { UpstreamKey } from './upstream-host';

/** The answer to `admit`: go ahead (with what the session needs), or a refusal to send the client. */
export type AdmitResult =
  | { ok: true; hit?: false; version: number; settings: UpstreamSettings; trial: boolean; tool?: ExposedTool; replica: number; ticket?: CacheTicket }
  | { ok: true; hit: true; value: unknown }
  | UpstreamRefusal;

const CONFIG_TTL_MS = 30_000;

/** The Durable Object for one tenant's upstream, named `<tenant>/<name>`. */
export function upstreamStub(env: Env, key: UpstreamKey): DurableObjectStub<UpstreamState> {
  return env.UPSTREAM_STATE.get(env.UPSTREAM_STATE.idFromName(`${key.tenant}/${key.name}`));
}

/**
 * State shared by every session of one tenant's upstream (one object per upstream, not per
 * process): the circuit breaker, the tools/list cache, the tool pins, the OAuth token cache and
 * the periodic health check (this object is not an Agent, so it owns its alarm). Sessions ask it
 * before each upstream call (`admit`) and tell it the outcome (`report`); the calls themselves go
 * from the session straight to the upstream, so this object is never on the data path.
 *
 * This class is the object's RPC surface and its configuration (`load`); each concern it serves
 * lives in its own module: the stored breaker (`stored-breaker.ts`), the replicas
 * (`replica-fleet.ts`), their protocol eras (`era-probes.ts`), the tools and their pins
 * (`tool-catalog.ts`), the response cache (`response-cache.ts`) and the health check
 * (`replica-health-check.ts`).
 */
export class UpstreamState extends DurableObject<Env> {
  private readonly host: UpstreamHost;
  private readonly circuit: StoredBreaker;
  private readonly fleet: ReplicaFleet;
  private readonly eras = new EraProbes();
  private readonly catalog: ToolCatalog;
  private record: UpstreamRecord | null = null;
  private recordAt = 0;
  private credentials: CredentialHeaders | null = null;
  private responses: ResponseCache | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.host = new UpstreamHost(env, ctx);
    this.circuit = new StoredBreaker(this.host);
    this.fleet = new ReplicaFleet(this.host);
    this.catalog = new ToolCatalog(this.host, this.circuit, this.fleet, (key, replica) => this.target(key, replica));
  }

  /**
   * May the session make this upstream call now? For tools/call, also the tool's pin status. With
   * `cache` (a cacheable read), the response cache is asked first: a hit is answered here, before
   * the breaker, and the upstream sees nothing; a miss carries a ticket to store the answer with.
   */
  async admit(key: UpstreamKey, op: string, exposedTool?: string, preferReplica?: number, cache?: CacheQuery): Promise<AdmitResult> {
    const record = await this.load(key);
    if (!record || !record.enabled) return { ok: false, code: GatewayCode.Unavailable, message: `Upstream "${key.name}" is not available` };
    const breaker = await this.circuit.of(record);
    let tool: ExposedTool | undefined;
    if (op === 'tools/call') {
      let exposed: ExposedTool[];
      try {
        exposed = await this.tools(key);
      } catch (error) {
        return { ok: false, code: GatewayCode.Unavailable, message: `Upstream "${key.name}" is unavailable: ${asFault(error, 'tools/list').message}` };
      }
      tool = exposed.find((t) => t.name === exposedTool);
      if (!tool) return (await this.catalog.blocked(record, exposedTool ?? '')) ?? { ok: false, code: -32602, message: `Tool ${exposedTool} not found` };
    }
    const scope = { tenant: key.tenant, upstream: key.name, version: record.version, settings: record.settings.responseCache };
    const cached = await this.responseCache().lookup(scope, op, cache, tool);
    if (cached && 'hit' in cached) return { ok: true, hit: true, value: cached.hit };
    const admission = breaker.admit(Date.now(), this.circuit.transition);
    if (!admission.allowed) {
      const seconds = Math.max(1, Math.ceil((admission.retryAt - Date.now()) / 1000));
      this.host.audit({ action: 'gateway.fail_fast', result: 'error', resource: exposedTool, details: { op } });
      return { ok: false, code: GatewayCode.Unavailable, message: `Upstream "${key.name}" is unavailable (circuit open); retry in ${seconds} s` };
    }
    const replica = this.fleet.of(record).pick(Date.now(), [], this.fleet.transition, preferReplica);
    if (replica === null) {
      if (admission.trial) breaker.record(false, Date.now(), 'every replica is taken out', this.circuit.transition);
      this.host.audit({ action: 'gateway.fail_fast', result: 'error', resource: exposedTool, details: { op, reason: 'every replica is taken out' } });
      return {
        ok: false,
        code: GatewayCode.Unavailable,
        message: `Upstream "${key.name}" is unavailable: every replica is taken out after failures; retry in ${Math.ceil(record.settings.cooldownMs / 1000)} s`,
      };
    }
    return { ok: true, version: record.version, settings: record.settings, trial: admission.trial, tool, replica, ticket: cached?.ticket };
  }

  /** A cacheable call answered: keep the answer (not an error, not after an invalidation since its ticket, not too large). */
  async storeResponse(key: UpstreamKey, ticket: CacheTicket, value: unknown): Promise<void> {
    const record = await this.load(key);
    const settings = record?.settings.responseCache;
    if (!settings?.enabled || !storable(value)) return;
    await this.responseCache().put(ticket, value, settings.ttlMs);
  }

  /**
   * The upstream announced a change (seen by a session's connection): `resources/updated` drops
   * that resource's entries, `resources/list_changed` every resource, `prompts/list_changed` every
   * prompt, `tools/list_changed` every tool answer (and refetches the tools list).
   */
  async upstreamChanged(key: UpstreamKey, method: string, params?: { uri?: unknown }): Promise<void> {
    if (method === 'notifications/tools/list_changed') return this.toolsChanged(key);
    await this.load(key);
    const cache = this.responseCache();
    if (method === 'notifications/resources/updated' && typeof params?.uri === 'string') await cache.invalidate('resources/read', params.uri);
    else if (method === 'notifications/resources/list_changed') await cache.invalidate('resources/read');
    else if (method === 'notifications/prompts/list_changed') await cache.invalidate('prompts/get');
  }

  /** The response cache's counters and size (tenant metrics, without the rest of `status`). */
  async responseCacheView(): Promise<Awaited<ReturnType<ResponseCache['view']>>> {
    return this.responseCache().view();
  }

  private responseCache(): ResponseCache {
    return (this.responses ??= new ResponseCache(this.ctx.storage));
  }

  /** Failover: another replica for a retried (idempotent) call, not one that already failed it; null when none is left. */
  async failover(key: UpstreamKey, exclude: number[]): Promise<number | null> {
    const record = await this.load(key);
    return record ? this.fleet.of(record).pick(Date.now(), exclude, this.fleet.transition) : null;
  }

  /** The outcome of one attempt on one replica (its breaker, latency and open-call count). */
  async reportReplica(key: UpstreamKey, replica: number, fault: boolean, latencyMs: number, reason = ''): Promise<void> {
    const record = await this.load(key);
    if (record) this.fleet.of(record).report(replica, fault, latencyMs, reason, Date.now(), this.fleet.transition);
  }

  /** The outcome of an admitted call: faults count against the breaker, anything else resets it. */
  async report(key: UpstreamKey, ok: boolean, reason = ''): Promise<void> {
    const record = await this.load(key);
    if (!record) return;
    (await this.circuit.of(record)).record(ok, Date.now(), reason, this.circuit.transition);
    await this.circuit.save();
  }

  /** How to reach the upstream: URL, transport, credential headers (never leaves the platform), settings, and the era its replica speaks. */
  async target(key: UpstreamKey, replica = 0): Promise<UpstreamTarget> {
    const record = await this.load(key);
    if (!record) throw new Error(`upstream "${key.name}" is not registered`);
    this.credentials ??= new CredentialHeaders(
      this.env,
      record.sealedCredentials ? await openCredentials(this.env, record.tenantId, record.name, record.sealedCredentials) : null,
      record.settings.connectTimeoutMs,
    );
    const replicas = this.fleet.of(record);
    const index = Math.min(replica, replicas.size - 1);
    const target: UpstreamTarget = {
      url: replicas.url(index),
      transport: record.transport,
      headers: await this.credentials.headers(),
      settings: record.settings,
      allowPrivate: privateUpstreamsAllowed(this.env),
      version: record.version,
    };
    return { ...target, era: await this.eras.of(replicas, index, target) };
  }

  /** The tools callers see: approved ones only, after the tenant's policy. Cached with a TTL. */
  async tools(key: UpstreamKey): Promise<ExposedTool[]> {
    const record = await this.load(key);
    return record ? this.catalog.exposed(record) : [];
  }

  /** The upstream said its tools changed: the next tools/list or tools/call refetches. */
  async toolsChanged(key: UpstreamKey): Promise<void> {
    await this.load(key);
    await this.catalog.changed();
    await this.responseCache().invalidate('tools/call');
  }

  /** Re-approve: pin the upstream's current definitions (after reviewing drift). */
  async approve(key: UpstreamKey): Promise<Record<string, unknown>> {
    const record = await this.load(key, true);
    if (!record) throw new Error('not registered');
    const cache = await this.catalog.refresh(record, true);
    await recordAudit(this.env, {
      tenant: key.tenant,
      action: 'gateway.tools_approved',
      result: 'ok',
      server: key.name,
      details: { tools: cache.tools.length },
    });
    return this.status(key);
  }

  /** Breaker, health, cache and pin state for the admin API (no credentials). */
  async status(key: UpstreamKey): Promise<Record<string, unknown>> {
    const record = await this.load(key);
    const breaker = record ? await this.circuit.of(record) : null;
    const tools = await this.catalog.view();
    return {
      breaker: breaker ? { state: breaker.state, consecutiveFailures: breaker.failures, openedAt: breaker.openedAt || null } : null,
      health: (await this.ctx.storage.get<ReplicaHealth>('health')) ?? null,
      cache: tools.cache,
      pins: tools.pins,
      replicas: record ? this.fleet.of(record).view() : [],
      era: record ? eraSummary(this.fleet.of(record)) : null,
      responseCache: await this.responseCache().view(),
    };
  }

  /** The admin changed the upstream: reload config and credentials; a re-enabled upstream is checked again soon. */
  async configChanged(key: UpstreamKey): Promise<void> {
    const record = await this.load(key, true);
    await this.responseCache().invalidate(); // answers under the old configuration are unreachable anyway: free them
    if (!record?.enabled) return;
    const soon = Date.now() + healthInterval(record.settings.healthIntervalMs, 1);
    const due = await this.ctx.storage.getAlarm();
    if (due === null || due > soon) await this.ctx.storage.setAlarm(soon);
  }

  /** The upstream was deleted: forget everything, stop health checks. */
  async reset(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.host.key = this.record = this.credentials = this.responses = null;
    this.circuit.forget();
    this.fleet.forget();
    this.catalog.forget();
  }

  /**
   * Periodic health check: initialize + ping. A success closes an open breaker after its cooldown.
   * Never for a deleted upstream or tenant (the state is reset), a suspended tenant or a disabled
   * upstream (paused: no request to the upstream); spaced by `healthInterval`.
   */
  override async alarm(): Promise<void> {
    const key = this.host.key ?? (await this.ctx.storage.get<UpstreamKey>('key')) ?? null;
    const record = key ? await this.load(key, true) : null;
    if (!key || !record) return this.reset();
    const tenant = await getTenant(this.env.DB, key.tenant);
    if (!tenant) return this.reset();
    if (tenant.status !== 'active' || !record.enabled) {
      await this.ctx.storage.setAlarm(Date.now() + PAUSED_RECHECK_MS);
      return;
    }
    const breaker = await this.circuit.of(record);
    const started = Date.now();
    const admission = breaker.state === 'closed' ? { allowed: true } : breaker.admit(started, this.circuit.transition);
    if (admission.allowed) {
      // Each replica is checked; the upstream is healthy when at least one replica is.
      const replicas = this.fleet.of(record);
      const results: ReplicaHealth[] = [];
      for (let i = 0; i < replicas.size; i++) {
        const { health, pingMs } = await checkReplica(() => this.target(key, i), record.settings.requestTimeoutMs);
        replicas.checked(i, health, pingMs, this.fleet.transition);
        results.push(health);
      }
      const health = results.find((h) => h.ok) ?? results[0]!;
      await this.ctx.storage.put('health', health);
      breaker.record(health.ok, Date.now(), health.error ?? '', this.circuit.transition);
      await this.circuit.save();
    }
    // Spacing counts every replica check of the tenant (each is one platform-initiated connection).
    await this.ctx.storage.setAlarm(Date.now() + healthInterval(record.settings.healthIntervalMs, await countHealthChecks(this.env.DB, key.tenant)));
  }

  /** The upstream's configuration from D1, re-read after CONFIG_TTL_MS or when `force`d; the first call also remembers the key and starts the health checks. */
  private async load(key: UpstreamKey, force = false): Promise<UpstreamRecord | null> {
    const first = !this.host.key;
    if (first) {
      this.host.key = key;
      await this.ctx.storage.put('key', key);
    }
    if (force || !this.record || Date.now() - this.recordAt > CONFIG_TTL_MS) {
      const fresh = await getUpstream(this.env.DB, key.tenant, key.name);
      if (!fresh || fresh.version !== this.record?.version) this.credentials = null;
      this.record = fresh;
      this.recordAt = Date.now();
      if (fresh) this.circuit.configure(fresh.settings);
    }
    if (first && this.record && (await this.ctx.storage.getAlarm()) === null)
      await this.ctx.storage.setAlarm(Date.now() + healthInterval(this.record.settings.healthIntervalMs, 1));
    return this.record;
  }
}
