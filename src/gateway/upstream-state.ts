import { DurableObject } from 'cloudflare:workers';
import { recordAudit } from '../audit/record';
import { log } from '../observability/log';
import { CircuitBreaker, type BreakerTransition } from './circuit-breaker';
import { probeEra, type UpstreamEra } from './modern-wire';
import { openUpstream } from './upstream-client';
import { asFault, isUpstreamFault, type UpstreamTarget } from './upstream-connection';
import { CredentialHeaders, openCredentials } from './upstream-credentials';
import { GatewayCode, UpstreamFault } from './upstream-errors';
import { replicasOf, type UpstreamRecord, type UpstreamSettings } from './upstream-model';
import { countHealthChecks, getUpstream, setBreakerState, setReplicasDown } from './upstream-store';
import { ReplicaSet, type ReplicaHealth } from './replicas';
import { healthInterval, PAUSED_RECHECK_MS } from './health-schedule';
import { getTenant } from '../tenancy/tenant-store';
import { privateUpstreamsAllowed } from './upstream-url';
import { withRetries } from './retry';
import { pinStatus, toolHash, type PinStatus } from './tool-pins';
import { exposeTools, type CachedTool, type ExposedTool } from './tool-view';
import { ResponseCache } from './response-cache';
import { storable, type CacheQuery, type CacheTicket } from './response-cache-model';

/** Which upstream a call is about; the object's name is `<tenant>/<name>`. */
export interface UpstreamKey {
  tenant: string;
  name: string;
}

/** The answer to `admit`: go ahead (with what the session needs), or a refusal to send the client. */
export type AdmitResult =
  | { ok: true; hit?: false; version: number; settings: UpstreamSettings; trial: boolean; tool?: ExposedTool; replica: number; ticket?: CacheTicket }
  | { ok: true; hit: true; value: unknown }
  | { ok: false; code: number; message: string };

interface ToolCache {
  fetchedAt: number;
  version: number;
  tools: CachedTool[];
}

interface Health {
  checkedAt: number;
  ok: boolean;
  latencyMs: number;
  error?: string;
}

const CONFIG_TTL_MS = 30_000;
const MAX_TOOL_PAGES = 20;

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
 */
export class UpstreamState extends DurableObject<Env> {
  private key: UpstreamKey | null = null;
  private record: UpstreamRecord | null = null;
  private recordAt = 0;
  private credentials: CredentialHeaders | null = null;
  private breaker: CircuitBreaker | null = null;
  private cache: ToolCache | null | undefined;
  private refreshing: Promise<ToolCache> | null = null;
  private replicaSet: ReplicaSet | null = null;
  private responses: ResponseCache | null = null;
  private readonly probes = new Map<string, Promise<UpstreamEra | undefined>>();

  /**
   * May the session make this upstream call now? For tools/call, also the tool's pin status. With
   * `cache` (a cacheable read), the response cache is asked first: a hit is answered here, before
   * the breaker, and the upstream sees nothing; a miss carries a ticket to store the answer with.
   */
  async admit(key: UpstreamKey, op: string, exposedTool?: string, preferReplica?: number, cache?: CacheQuery): Promise<AdmitResult> {
    const record = await this.load(key);
    if (!record || !record.enabled) return { ok: false, code: GatewayCode.Unavailable, message: `Upstream "${key.name}" is not available` };
    const breaker = await this.breakerFor(record);
    let tool: ExposedTool | undefined;
    if (op === 'tools/call') {
      let exposed: ExposedTool[];
      try {
        exposed = await this.tools(key);
      } catch (error) {
        return { ok: false, code: GatewayCode.Unavailable, message: `Upstream "${key.name}" is unavailable: ${asFault(error, 'tools/list').message}` };
      }
      tool = exposed.find((t) => t.name === exposedTool);
      if (!tool) return (await this.blockedTool(record, exposedTool ?? '')) ?? { ok: false, code: -32602, message: `Tool ${exposedTool} not found` };
    }
    const scope = { tenant: key.tenant, upstream: key.name, version: record.version, settings: record.settings.responseCache };
    const cached = await this.responseCache().lookup(scope, op, cache, tool);
    if (cached && 'hit' in cached) return { ok: true, hit: true, value: cached.hit };
    const admission = breaker.admit(Date.now(), (t) => this.transition(t));
    if (!admission.allowed) {
      const seconds = Math.max(1, Math.ceil((admission.retryAt - Date.now()) / 1000));
      this.ctx.waitUntil(
        recordAudit(this.env, { tenant: key.tenant, action: 'gateway.fail_fast', result: 'error', server: key.name, resource: exposedTool, details: { op } }),
      );
      return { ok: false, code: GatewayCode.Unavailable, message: `Upstream "${key.name}" is unavailable (circuit open); retry in ${seconds} s` };
    }
    const replica = this.replicasFor(record).pick(Date.now(), [], this.replicaTransition, preferReplica);
    if (replica === null) {
      if (admission.trial) breaker.record(false, Date.now(), 'every replica is taken out', (t) => this.transition(t));
      this.ctx.waitUntil(
        recordAudit(this.env, {
          tenant: key.tenant,
          action: 'gateway.fail_fast',
          result: 'error',
          server: key.name,
          resource: exposedTool,
          details: { op, reason: 'every replica is taken out' },
        }),
      );
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
    return record ? this.replicasFor(record).pick(Date.now(), exclude, this.replicaTransition) : null;
  }

  /** The outcome of one attempt on one replica (its breaker, latency and open-call count). */
  async reportReplica(key: UpstreamKey, replica: number, fault: boolean, latencyMs: number, reason = ''): Promise<void> {
    const record = await this.load(key);
    if (record) this.replicasFor(record).report(replica, fault, latencyMs, reason, Date.now(), this.replicaTransition);
  }

  /** The outcome of an admitted call: faults count against the breaker, anything else resets it. */
  async report(key: UpstreamKey, ok: boolean, reason = ''): Promise<void> {
    const record = await this.load(key);
    if (!record) return;
    (await this.breakerFor(record)).record(ok, Date.now(), reason, (t) => this.transition(t));
    await this.saveBreaker();
  }

  /** How to reach the upstream: URL, transport, credential headers (never leaves the platform), settings. */
  async target(key: UpstreamKey, replica = 0): Promise<UpstreamTarget> {
    const record = await this.load(key);
    if (!record) throw new Error(`upstream "${key.name}" is not registered`);
    this.credentials ??= new CredentialHeaders(
      this.env,
      record.sealedCredentials ? await openCredentials(this.env, record.tenantId, record.name, record.sealedCredentials) : null,
      record.settings.connectTimeoutMs,
    );
    const replicas = this.replicasFor(record);
    const index = Math.min(replica, replicas.size - 1);
    const target: UpstreamTarget = {
      url: replicas.url(index),
      transport: record.transport,
      headers: await this.credentials.headers(),
      settings: record.settings,
      allowPrivate: privateUpstreamsAllowed(this.env),
      version: record.version,
    };
    return { ...target, era: await this.eraOf(replicas, index, target) };
  }

  /**
   * The era a replica speaks: cached per replica for ERA_TTL_MS (forgotten on a fault), else
   * probed with `server/discover` once for all concurrent callers. A probe that cannot reach the
   * replica leaves the era unknown (the caller uses the 2025 handshake, whose failure is reported
   * as usual), so the next call probes again.
   */
  private eraOf(replicas: ReplicaSet, index: number, target: UpstreamTarget): Promise<UpstreamEra | undefined> {
    const known = replicas.era(index, Date.now());
    if (known) return Promise.resolve(known);
    const probeKey = `${replicas.version}:${index}`;
    let probe = this.probes.get(probeKey);
    if (!probe) {
      probe = probeEra(target)
        .then((era) => {
          replicas.setEra(index, era, Date.now());
          return era as UpstreamEra | undefined;
        })
        .catch(() => undefined)
        .finally(() => this.probes.delete(probeKey));
      this.probes.set(probeKey, probe);
    }
    return probe;
  }

  /** The tools callers see: approved ones only, after the tenant's policy. Cached with a TTL. */
  async tools(key: UpstreamKey): Promise<ExposedTool[]> {
    const record = await this.load(key);
    if (!record) return [];
    let cache = await this.cached();
    const stale = !cache || cache.version !== record.version || Date.now() - cache.fetchedAt > record.settings.cacheTtlMs;
    if (stale) {
      try {
        cache = await this.refresh(record);
      } catch (error) {
        if (!cache) throw error; // nothing to serve: the session reports the fault
        log('warn', 'gateway.tools_stale', { tenant: key.tenant, server: key.name, reason: String(error) });
      }
    }
    return exposeTools(
      cache!.tools.filter((t) => t.pin === 'approved'),
      record.policy,
    );
  }

  /** The upstream said its tools changed: the next tools/list or tools/call refetches. */
  async toolsChanged(key: UpstreamKey): Promise<void> {
    await this.load(key);
    if (this.cache) this.cache = { ...this.cache, fetchedAt: 0 };
    await this.ctx.storage.put('tools', this.cache ?? null);
    await this.responseCache().invalidate('tools/call');
  }

  /** Re-approve: pin the upstream's current definitions (after reviewing drift). */
  async approve(key: UpstreamKey): Promise<Record<string, unknown>> {
    const record = await this.load(key, true);
    if (!record) throw new Error('not registered');
    const cache = await this.refresh(record, true);
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
    const breaker = record ? await this.breakerFor(record) : null;
    const cache = await this.cached();
    const byPin = (p: PinStatus) => (cache?.tools ?? []).filter((t) => t.pin === p).map((t) => t.definition.name);
    return {
      breaker: breaker ? { state: breaker.state, consecutiveFailures: breaker.failures, openedAt: breaker.openedAt || null } : null,
      health: (await this.ctx.storage.get<Health>('health')) ?? null,
      cache: cache ? { fetchedAt: cache.fetchedAt || null, tools: cache.tools.length } : null,
      pins: { approved: byPin('approved'), drifted: byPin('drifted'), unapproved: byPin('unapproved') },
      replicas: record ? this.replicasFor(record).view() : [],
      era: record ? this.eraSummary(this.replicasFor(record)) : null,
      responseCache: await this.responseCache().view(),
    };
  }

  /** Which era the upstream speaks, as its replicas' last probes found: one era, `mixed`, or null before any probe. */
  private eraSummary(replicas: ReplicaSet): string | null {
    const eras = new Set(replicas.view().flatMap((r) => (r.era ? [r.era as string] : [])));
    return eras.size === 0 ? null : eras.size === 1 ? [...eras][0]! : 'mixed';
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
    this.key = this.record = this.breaker = this.credentials = this.replicaSet = this.responses = null;
    this.cache = undefined;
  }

  /**
   * Periodic health check: initialize + ping. A success closes an open breaker after its cooldown.
   * Never for a deleted upstream or tenant (the state is reset), a suspended tenant or a disabled
   * upstream (paused: no request to the upstream); spaced by `healthInterval`.
   */
  override async alarm(): Promise<void> {
    const key = this.key ?? (await this.ctx.storage.get<UpstreamKey>('key')) ?? null;
    const record = key ? await this.load(key, true) : null;
    if (!key || !record) return this.reset();
    const tenant = await getTenant(this.env.DB, key.tenant);
    if (!tenant) return this.reset();
    if (tenant.status !== 'active' || !record.enabled) {
      await this.ctx.storage.setAlarm(Date.now() + PAUSED_RECHECK_MS);
      return;
    }
    const breaker = await this.breakerFor(record);
    const started = Date.now();
    const admission = breaker.state === 'closed' ? { allowed: true } : breaker.admit(started, (t) => this.transition(t));
    if (admission.allowed) {
      // Each replica is checked; the upstream is healthy when at least one replica is.
      const replicas = this.replicasFor(record);
      const results: Health[] = [];
      for (let i = 0; i < replicas.size; i++) {
        const { health, pingMs } = await this.checkReplica(key, record, i);
        replicas.checked(i, health, pingMs, this.replicaTransition);
        results.push(health);
      }
      const health = results.find((h) => h.ok) ?? results[0]!;
      await this.ctx.storage.put('health', health);
      breaker.record(health.ok, Date.now(), health.error ?? '', (t) => this.transition(t));
      await this.saveBreaker();
    }
    // Spacing counts every replica check of the tenant (each is one platform-initiated connection).
    await this.ctx.storage.setAlarm(Date.now() + healthInterval(record.settings.healthIntervalMs, await countHealthChecks(this.env.DB, key.tenant)));
  }

  /** One replica's health check: connect, ping, close. */
  private async checkReplica(key: UpstreamKey, record: UpstreamRecord, replica: number): Promise<{ health: ReplicaHealth; pingMs: number }> {
    const started = Date.now();
    try {
      const client = await openUpstream(await this.target(key, replica));
      const pingStart = Date.now();
      await client.ping({ timeout: record.settings.requestTimeoutMs }).finally(() => client.close().catch(() => undefined));
      return { health: { checkedAt: started, ok: true, latencyMs: Date.now() - started }, pingMs: Date.now() - pingStart };
    } catch (error) {
      return {
        health: { checkedAt: started, ok: false, latencyMs: Date.now() - started, error: asFault(error, 'health check').message.slice(0, 200) },
        pingMs: 0,
      };
    }
  }

  /** The replicas' runtime state for the current configuration (rebuilt when the version changes). */
  private replicasFor(record: UpstreamRecord): ReplicaSet {
    if (this.replicaSet?.version !== record.version) this.replicaSet = new ReplicaSet(record.version, replicasOf(record), record.balance, record.settings);
    return this.replicaSet;
  }

  /** A replica was taken out or came back: logged, audited, and the down count mirrored to D1 for /health. */
  private readonly replicaTransition = (replica: number, t: BreakerTransition): void => {
    const key = this.key!;
    if (t.to === 'half-open') return;
    const action = t.to === 'open' ? 'gateway.replica_down' : 'gateway.replica_up';
    log(t.to === 'open' ? 'warn' : 'info', action, { tenant: key.tenant, server: key.name, replica, reason: t.reason });
    this.ctx.waitUntil(
      recordAudit(this.env, {
        tenant: key.tenant,
        action,
        result: t.to === 'open' ? 'error' : 'ok',
        server: key.name,
        details: { replica, reason: t.reason.slice(0, 200) },
      }),
    );
    const down = this.replicaSet?.down() ?? 0;
    this.ctx.waitUntil(setReplicasDown(this.env.DB, key.tenant, key.name, down).catch(() => undefined));
  };

  private async load(key: UpstreamKey, force = false): Promise<UpstreamRecord | null> {
    const first = !this.key;
    if (first) {
      this.key = key;
      await this.ctx.storage.put('key', key);
    }
    if (force || !this.record || Date.now() - this.recordAt > CONFIG_TTL_MS) {
      const fresh = await getUpstream(this.env.DB, key.tenant, key.name);
      if (!fresh || fresh.version !== this.record?.version) this.credentials = null;
      this.record = fresh;
      this.recordAt = Date.now();
      if (fresh && this.breaker) this.breaker.configure(fresh.settings.failureThreshold, fresh.settings.cooldownMs);
    }
    if (first && this.record && (await this.ctx.storage.getAlarm()) === null)
      await this.ctx.storage.setAlarm(Date.now() + healthInterval(this.record.settings.healthIntervalMs, 1));
    return this.record;
  }

  private async breakerFor(record: UpstreamRecord): Promise<CircuitBreaker> {
    if (!this.breaker) {
      const b = new CircuitBreaker(record.settings.failureThreshold, record.settings.cooldownMs);
      const saved = await this.ctx.storage.get<{ state: CircuitBreaker['state']; failures: number; openedAt: number }>('breaker');
      if (saved) Object.assign(b, saved);
      this.breaker = b;
    }
    return this.breaker;
  }

  private async saveBreaker(): Promise<void> {
    const b = this.breaker;
    if (b) await this.ctx.storage.put('breaker', { state: b.state, failures: b.failures, openedAt: b.openedAt });
  }

  private transition(t: BreakerTransition): void {
    const key = this.key!;
    const action = t.to === 'open' ? 'gateway.breaker_open' : t.to === 'half-open' ? 'gateway.breaker_half_open' : 'gateway.breaker_closed';
    log(t.to === 'open' ? 'warn' : 'info', action, { tenant: key.tenant, server: key.name, reason: t.reason });
    this.ctx.waitUntil(
      recordAudit(this.env, {
        tenant: key.tenant,
        action,
        result: t.to === 'open' ? 'error' : 'ok',
        server: key.name,
        details: { from: t.from, to: t.to, reason: t.reason },
      }),
    );
    this.ctx.waitUntil(setBreakerState(this.env.DB, key.tenant, key.name, t.to).catch(() => undefined));
    this.ctx.waitUntil(this.saveBreaker());
  }

  private async cached(): Promise<ToolCache | null> {
    if (this.cache === undefined) this.cache = (await this.ctx.storage.get<ToolCache>('tools')) ?? null;
    return this.cache;
  }

  /** A tool absent from the approved list: drifted or new upstream tools are blocked with a clear error. */
  private async blockedTool(record: UpstreamRecord, exposedTool: string): Promise<AdmitResult | null> {
    const all = exposeTools((await this.cached())?.tools ?? [], record.policy);
    const hit = all.find((t) => t.name === exposedTool);
    if (!hit || hit.pin === 'approved') return null;
    const key = this.key!;
    this.ctx.waitUntil(
      recordAudit(this.env, {
        tenant: key.tenant,
        action: 'gateway.drift_blocked',
        result: 'denied',
        server: key.name,
        resource: exposedTool,
        details: { pin: hit.pin },
      }),
    );
    const why = hit.pin === 'drifted' ? 'its definition changed since it was approved' : 'it appeared after the upstream was approved';
    return { ok: false, code: GatewayCode.Drift, message: `Tool "${exposedTool}" is blocked: ${why}. A tenant admin must re-approve the upstream.` };
  }

  /** Fetch tools/list (all pages, retried: it is idempotent), hash, compare with pins. One fetch at a time. */
  private refresh(record: UpstreamRecord, approve = false): Promise<ToolCache> {
    if (this.refreshing && !approve) return this.refreshing;
    const run = (async () => {
      const breaker = await this.breakerFor(record);
      const admission = breaker.admit(Date.now(), (t) => this.transition(t));
      if (!admission.allowed) throw new Error(`Upstream "${record.name}" is unavailable (circuit open)`);
      let definitions: CachedTool['definition'][];
      try {
        const tried: number[] = [];
        definitions = await withRetries(() => this.fetchTools(record, tried), {
          retries: record.settings.retries,
          baseMs: record.settings.retryBaseMs,
          retryable: isUpstreamFault,
        });
        breaker.record(true, Date.now(), '', (t) => this.transition(t));
      } catch (error) {
        breaker.record(!isUpstreamFault(error), Date.now(), String(error), (t) => this.transition(t));
        throw error;
      } finally {
        await this.saveBreaker();
      }
      return this.pin(record, definitions, approve);
    })();
    this.refreshing = run;
    run
      .finally(() => {
        if (this.refreshing === run) this.refreshing = null;
      })
      .catch(() => undefined);
    return run;
  }

  /** tools/list from one replica (not one in `tried`, which it joins); its outcome feeds that replica's figures. */
  private async fetchTools(record: UpstreamRecord, tried: number[]): Promise<CachedTool['definition'][]> {
    const replicas = this.replicasFor(record);
    const replica = replicas.pick(Date.now(), tried.length < replicas.size ? tried : [], this.replicaTransition) ?? 0;
    tried.push(replica);
    const started = Date.now();
    try {
      const tools = await this.fetchToolsFrom(record, replica);
      replicas.report(replica, false, Date.now() - started, '', Date.now(), this.replicaTransition);
      return tools;
    } catch (error) {
      replicas.report(replica, isUpstreamFault(error), Date.now() - started, String(error).slice(0, 200), Date.now(), this.replicaTransition);
      throw error;
    }
  }

  private async fetchToolsFrom(record: UpstreamRecord, replica: number): Promise<CachedTool['definition'][]> {
    const client = await openUpstream(await this.target({ tenant: record.tenantId, name: record.name }, replica));
    try {
      const out: CachedTool['definition'][] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_TOOL_PAGES; page++) {
        const res = await client.request('tools/list', cursor ? { cursor } : {}, {
          timeout: record.settings.requestTimeoutMs,
          maxTotalTimeout: record.settings.responseTimeoutMs,
        });
        if (!Array.isArray(res.tools)) throw new UpstreamFault('upstream answered tools/list without a tools array');
        out.push(...(res.tools as CachedTool['definition'][]));
        cursor = typeof res.nextCursor === 'string' ? res.nextCursor : undefined;
        if (!cursor) break;
      }
      return out;
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  private async pin(record: UpstreamRecord, definitions: CachedTool['definition'][], approve: boolean): Promise<ToolCache> {
    const key = this.key!;
    let pins = (await this.ctx.storage.get<Record<string, string>>('pins')) ?? null;
    const hashed = await Promise.all(definitions.map(async (d) => ({ definition: d, hash: await toolHash(d) })));
    if (approve || pins === null) {
      // Registration is the first approval (trust on first use); re-approval pins what is there now.
      pins = Object.fromEntries(hashed.map((t) => [t.definition.name, t.hash]));
      await this.ctx.storage.put('pins', pins);
    }
    const previous = new Map((this.cache?.tools ?? []).map((t) => [t.definition.name, t.pin]));
    const tools = hashed.map((t) => ({ ...t, pin: pinStatus(pins!, t.definition.name, t.hash) }));
    for (const t of tools) {
      if (t.pin !== 'approved' && previous.get(t.definition.name) !== t.pin) {
        log('warn', 'gateway.tool_drift', { tenant: key.tenant, server: key.name, tool: t.definition.name, pin: t.pin });
        this.ctx.waitUntil(
          recordAudit(this.env, {
            tenant: key.tenant,
            action: 'gateway.tool_drift',
            result: 'denied',
            server: key.name,
            resource: t.definition.name,
            details: { pin: t.pin },
          }),
        );
      }
    }
    this.cache = { fetchedAt: Date.now(), version: record.version, tools };
    await this.ctx.storage.put('tools', this.cache);
    return this.cache;
  }
}
