import { log } from '../observability/log';
import { withRetries } from './retry';
import type { ReplicaFleet } from './replica-fleet';
import type { StoredBreaker } from './stored-breaker';
import { openUpstream } from './upstream-client';
import { isUpstreamFault, type UpstreamTarget } from './upstream-connection';
import { GatewayCode, UpstreamFault } from './upstream-errors';
import type { UpstreamHost, UpstreamKey, UpstreamRefusal } from './upstream-host';
import type { UpstreamRecord } from './upstream-model';
import { pinStatus, toolHash, type PinStatus } from './tool-pins';
import { exposeTools, type CachedTool, type ExposedTool } from './tool-view';

/** The upstream's tools/list as last fetched, each tool hashed and compared with its pin. */
interface ToolCache {
  fetchedAt: number;
  version: number;
  tools: CachedTool[];
}

type Definition = CachedTool['definition'];

const MAX_TOOL_PAGES = 20;

/**
 * The tools of one upstream as every session of it sees them: tools/list fetched once per TTL for
 * all sessions (all pages, retried, through the upstream's breaker and replicas), each definition
 * hashed and compared with the pins approved by the tenant (trust on first use), and only approved
 * tools exposed, after the tenant's policy. A tool that drifted or appeared since approval is
 * blocked with a clear error and audited. Kept in the state object's storage (`tools`, `pins`).
 */
export class ToolCatalog {
  private cache: ToolCache | null | undefined;
  private refreshing: Promise<ToolCache> | null = null;

  constructor(
    private readonly host: UpstreamHost,
    private readonly circuit: StoredBreaker,
    private readonly fleet: ReplicaFleet,
    private readonly target: (key: UpstreamKey, replica: number) => Promise<UpstreamTarget>,
  ) {}

  /** The tools callers see: approved ones only, after the tenant's policy; refetched when stale (a stale list is served if the upstream is down). */
  async exposed(record: UpstreamRecord): Promise<ExposedTool[]> {
    let cache = await this.cached();
    const stale = !cache || cache.version !== record.version || Date.now() - cache.fetchedAt > record.settings.cacheTtlMs;
    if (stale) {
      try {
        cache = await this.refresh(record);
      } catch (error) {
        if (!cache) throw error; // nothing to serve: the session reports the fault
        const key = this.host.key!;
        log('warn', 'gateway.tools_stale', { tenant: key.tenant, server: key.name, reason: String(error) });
      }
    }
    return exposeTools(
      cache!.tools.filter((t) => t.pin === 'approved'),
      record.policy,
    );
  }

  /** The upstream said its tools changed: the next tools/list or tools/call refetches. */
  async changed(): Promise<void> {
    if (this.cache) this.cache = { ...this.cache, fetchedAt: 0 };
    await this.host.storage.put('tools', this.cache ?? null);
  }

  /** For the admin API: when the list was fetched, how many tools, and which are approved, drifted or unapproved. */
  async view(): Promise<{ cache: { fetchedAt: number | null; tools: number } | null; pins: Record<PinStatus, string[]> }> {
    const cache = await this.cached();
    const byPin = (p: PinStatus) => (cache?.tools ?? []).filter((t) => t.pin === p).map((t) => t.definition.name);
    return {
      cache: cache ? { fetchedAt: cache.fetchedAt || null, tools: cache.tools.length } : null,
      pins: { approved: byPin('approved'), drifted: byPin('drifted'), unapproved: byPin('unapproved') },
    };
  }

  /** Forget the list in memory (the upstream was deleted; storage is wiped by the caller). */
  forget(): void {
    this.cache = undefined;
  }

  /** A tool absent from the approved list: drifted or new upstream tools are blocked with a clear error (null: not such a tool). */
  async blocked(record: UpstreamRecord, exposedTool: string): Promise<UpstreamRefusal | null> {
    const all = exposeTools((await this.cached())?.tools ?? [], record.policy);
    const hit = all.find((t) => t.name === exposedTool);
    if (!hit || hit.pin === 'approved') return null;
    this.host.audit({ action: 'gateway.drift_blocked', result: 'denied', resource: exposedTool, details: { pin: hit.pin } });
    const why = hit.pin === 'drifted' ? 'its definition changed since it was approved' : 'it appeared after the upstream was approved';
    return { ok: false, code: GatewayCode.Drift, message: `Tool "${exposedTool}" is blocked: ${why}. A tenant admin must re-approve the upstream.` };
  }

  /** Fetch tools/list (all pages, retried: it is idempotent), hash, compare with pins (`approve`: pin what is there now). One fetch at a time. */
  refresh(record: UpstreamRecord, approve = false): Promise<ToolCache> {
    if (this.refreshing && !approve) return this.refreshing;
    const run = (async () => {
      const breaker = await this.circuit.of(record);
      const admission = breaker.admit(Date.now(), this.circuit.transition);
      if (!admission.allowed) throw new Error(`Upstream "${record.name}" is unavailable (circuit open)`);
      let definitions: Definition[];
      try {
        const tried: number[] = [];
        definitions = await withRetries(() => this.fetchTools(record, tried), {
          retries: record.settings.retries,
          baseMs: record.settings.retryBaseMs,
          retryable: isUpstreamFault,
        });
        breaker.record(true, Date.now(), '', this.circuit.transition);
      } catch (error) {
        breaker.record(!isUpstreamFault(error), Date.now(), String(error), this.circuit.transition);
        throw error;
      } finally {
        await this.circuit.save();
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

  private async cached(): Promise<ToolCache | null> {
    if (this.cache === undefined) this.cache = (await this.host.storage.get<ToolCache>('tools')) ?? null;
    return this.cache;
  }

  /** tools/list from one replica (not one in `tried`, which it joins); its outcome feeds that replica's figures. */
  private async fetchTools(record: UpstreamRecord, tried: number[]): Promise<Definition[]> {
    const replicas = this.fleet.of(record);
    const replica = replicas.pick(Date.now(), tried.length < replicas.size ? tried : [], this.fleet.transition) ?? 0;
    tried.push(replica);
    const started = Date.now();
    try {
      const tools = await this.fetchToolsFrom(record, replica);
      replicas.report(replica, false, Date.now() - started, '', Date.now(), this.fleet.transition);
      return tools;
    } catch (error) {
      replicas.report(replica, isUpstreamFault(error), Date.now() - started, String(error).slice(0, 200), Date.now(), this.fleet.transition);
      throw error;
    }
  }

  private async fetchToolsFrom(record: UpstreamRecord, replica: number): Promise<Definition[]> {
    const client = await openUpstream(await this.target({ tenant: record.tenantId, name: record.name }, replica));
    try {
      const out: Definition[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_TOOL_PAGES; page++) {
        const res = await client.request('tools/list', cursor ? { cursor } : {}, {
          timeout: record.settings.requestTimeoutMs,
          maxTotalTimeout: record.settings.responseTimeoutMs,
        });
        if (!Array.isArray(res.tools)) throw new UpstreamFault('upstream answered tools/list without a tools array');
        out.push(...(res.tools as Definition[]));
        cursor = typeof res.nextCursor === 'string' ? res.nextCursor : undefined;
        if (!cursor) break;
      }
      return out;
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  /** Hash the definitions and compare them with the pins; a tool newly drifted or unapproved is logged and audited once. */
  private async pin(record: UpstreamRecord, definitions: Definition[], approve: boolean): Promise<ToolCache> {
    const key = this.host.key!;
    let pins = (await this.host.storage.get<Record<string, string>>('pins')) ?? null;
    const hashed = await Promise.all(definitions.map(async (d) => ({ definition: d, hash: await toolHash(d) })));
    if (approve || pins === null) {
      // Registration is the first approval (trust on first use); re-approval pins what is there now.
      pins = Object.fromEntries(hashed.map((t) => [t.definition.name, t.hash]));
      await this.host.storage.put('pins', pins);
    }
    const previous = new Map((this.cache?.tools ?? []).map((t) => [t.definition.name, t.pin]));
    const tools = hashed.map((t) => ({ ...t, pin: pinStatus(pins!, t.definition.name, t.hash) }));
    for (const t of tools) {
      if (t.pin !== 'approved' && previous.get(t.definition.name) !== t.pin) {
        log('warn', 'gateway.tool_drift', { tenant: key.tenant, server: key.name, tool: t.definition.name, pin: t.pin });
        this.host.audit({ action: 'gateway.tool_drift', result: 'denied', resource: t.definition.name, details: { pin: t.pin } });
      }
    }
    this.cache = { fetchedAt: Date.now(), version: record.version, tools };
    await this.host.storage.put('tools', this.cache);
    return this.cache;
  }
}
