import { AsyncLocalStorage } from 'node:async_hooks';
import { McpAgent } from 'agents/mcp';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { DEFAULT_CAPABILITIES, type HostedServerInfo, type ServerDefinition, type SessionSql } from './author-api';
import { installChokePoint, isGuarded, type HandlerExtra, type RawRequest } from './choke-point';
import { registerLegacy } from './legacy-adapter';
import {
  CLIENT_IP_FORWARD_HEADER,
  CORRELATION_FORWARD_HEADER,
  decodePrincipal,
  ownerKey,
  PRINCIPAL_HEADER,
  tenantNamespace,
  type Principal,
} from './principal';
import { guardRequest } from './request-guard';
import type { ToolPolicySource } from './tool-policy';
import type { AuditEventInput } from '../audit/audit-event';
import { AuditOutbox, retryDelayMs } from '../audit/audit-outbox';
import { toAuditEvent } from '../audit/audit-record';
import { confineObjectRequest } from '../gate/forward-headers';
import { RpcCode } from '../http/responses';
import { log } from '../observability/log';
import { platformSecret, sessionIdleMs } from '../config';
import { expiryDelayMs } from '../limits/session-registry';
import { releaseSlot } from '../limits/session-slots';
import { TenantFiles } from '../storage/tenant-files';
import { TenantKv } from '../storage/tenant-kv';

export type { HostedServerInfo } from './author-api';

const OWNER_KEY = 'smcp:owner';
const EXPIRY_KEY = 'smcp:expiry-schedule';
/** The scheduler callback that ends an idle session (a method name, as the Agents SDK requires). */
const EXPIRE_CALLBACK = 'expireIdleSession';
/**
 * Seconds between an audit event and its shipment to the audit store: batches bursts without delaying the call.
 * 5 s rather than 1 s cut the D1 batches a busy session sends fivefold (see docs/performance.md).
 */
const SHIP_DELAY_SECONDS = 5;

interface McpServerInternals {
  _registeredTools: Record<string, ToolPolicySource & { _meta?: Record<string, unknown> }>;
}

/**
 * The base class of every hosted MCP server: one Durable Object per MCP session.
 *
 * Server authors implement `info` and `register(server)`; they never see an unguarded server. Every
 * request handler runs behind `guard`, which (1) requires the principal the gate attached, (2) checks
 * the session belongs to that principal (defence in depth behind the gate's signed session ids),
 * (3) applies per-tool policy and filters `tools/list`, and (4) records one audit event per request
 * in the session's own SQLite (the outbox), shipped to the tenant's audit store by the scheduler. Metrics are computed
 * from those events, so the hot path makes no extra network call for them.
 */
export abstract class HostedMcpAgent extends McpAgent<Env, unknown, Principal> {
  // Assigned in init(); `declare` keeps the class field from resetting it.
  declare server: McpServer;

  /**
   * The server's one definition (`defineServer`), served by both eras: registered here on the
   * session's server, and by the stateless lane on a per-request server in the Worker. Servers
   * under `servers/` set this; only platform-internal servers (the gateway) override `info` and
   * `register` instead.
   */
  static readonly definition?: ServerDefinition;

  /** Name, version and capabilities announced at initialize, for servers without a definition. */
  protected readonly info?: HostedServerInfo;

  /** Register tools, resources and prompts on the (already guarded) server (by default the definition's). */
  protected register(server: McpServer): void | Promise<void> {
    const definition = this.definition();
    if (!definition) throw new Error(`${this.constructor.name}: no server definition`);
    const secret = platformSecret(this.env);
    if (!secret) throw new Error('SMCP_SECRET is missing');
    registerLegacy(server, definition, {
      env: this.env,
      secret,
      principal: () => this.principal(),
      sessionId: () => this.getSessionId(),
      sql: ((strings: TemplateStringsArray, ...values: (string | number | boolean | null)[]) => this.sql(strings, ...values)) as SessionSql,
    });
  }

  private definition(): ServerDefinition | undefined {
    return (this.constructor as typeof HostedMcpAgent).definition;
  }

  /**
   * @internal Only the benchmark's audit-off variant sets this to false, to measure what auditing
   * costs; `test/node/registry-agreement.test.ts` fails if any hosted server under `servers/` does.
   */
  protected readonly auditRequests: boolean = true;

  private readonly calls = new AsyncLocalStorage<Principal>();
  private owner: string | null | undefined;
  /** When the current expiry schedule fires (0 = unknown in this instance). */
  private expiryDue = 0;
  private expiryId: string | null | undefined;
  private auditOutbox?: AuditOutbox;
  private shipArmed = false;

  /**
   * @internal Every request into the object keeps only the headers the transports, the SDK's
   * bridge and the platform set (forward-headers.ts): defence in depth behind the gate's
   * allowlist, since the SDK obeys some headers (`x-cf-agents-subagent-url`) as instructions.
   */
  override async fetch(request: Request): Promise<Response> {
    return super.fetch(confineObjectRequest(request));
  }

  /** @internal Builds the guarded server; authors implement `register` instead. */
  async init(): Promise<void> {
    const info = this.info ?? this.definition()?.info;
    if (!info) throw new Error(`${this.constructor.name}: no server definition`);
    const { name, version, title, instructions, capabilities } = info;
    const server = new McpServer(
      { name, version, title },
      {
        capabilities: capabilities ?? DEFAULT_CAPABILITIES,
        instructions,
        // Ajv compiles validators with eval, which workerd forbids; @cfworker/json-schema interprets.
        jsonSchemaValidator: new CfWorkerJsonSchemaValidator(),
      },
    );
    installChokePoint(server, (method, request, extra, next) => this.guard(method, request, extra, next));
    this.server = server;
    await this.register(server);
    if (!isGuarded(server)) throw new Error(`${name}: request handlers were replaced after setup; refusing to serve unguarded`);
    // Events left by a previous incarnation (eviction, crash) ship as soon as the object is back.
    if (this.outbox().pending() > 0) this.armShipping(0, 0, true);
    // Every path that creates a session object (initialize, a legacy SSE stream dropped before
    // any message) gets an idle expiry from its first start, so no storage is ever orphaned.
    await this.armExpiryOnce();
  }

  /**
   * Runs before the session's storage is destroyed (idle expiry, DELETE): ships the audit outbox
   * to the audit store and throws when it cannot, so the caller keeps the storage and tries again later.
   */
  protected async beforeSessionEnd(): Promise<void> {
    await this.outbox().ship(this.env);
  }

  /** @internal Scheduler callback: ship the audit outbox, or re-arm with backoff while the store fails. */
  async shipAuditOutbox(payload?: { attempt?: number }): Promise<void> {
    this.shipArmed = false;
    try {
      await this.outbox().ship(this.env);
      if (this.outbox().pending() > 0) this.armShipping(0);
    } catch (error) {
      const attempt = (payload?.attempt ?? 0) + 1;
      log('warn', 'audit.ship_failed', { attempt, pending: this.outbox().pending(), error: String(error).slice(0, 200) });
      this.armShipping(attempt, retryDelayMs(attempt) / 1000);
    }
  }

  private outbox(): AuditOutbox {
    return (this.auditOutbox ??= new AuditOutbox(this.ctx.storage.sql));
  }

  /** At startup the schedule is idempotent, so restarts do not pile up rows; elsewhere one shipment is armed at a time. */
  private armShipping(attempt: number, delaySeconds = SHIP_DELAY_SECONDS, atStartup = false): void {
    if (this.shipArmed) return;
    this.shipArmed = true;
    this.schedule(delaySeconds, 'shipAuditOutbox', { attempt, atStartup }, { idempotent: atStartup }).catch((error) => {
      this.shipArmed = false;
      log('error', 'audit.schedule_failed', { error: String(error).slice(0, 200) });
    });
  }

  /**
   * Record an audit event from this session object: written to the session's own outbox in the
   * same turn (as durable as what the handler did), shipped to the tenant's store by the scheduler.
   * The one way a session object records (src/audit/record.ts); the guard already records each request.
   */
  protected recordAudit(event: AuditEventInput, sensitive?: ReadonlySet<string>): void {
    this.outbox().append(toAuditEvent(event, sensitive));
    this.armShipping(0);
  }

  /** The caller of the request being handled. Throws outside a request (deny by default). */
  protected principal(): Principal {
    const p = this.calls.getStore();
    if (!p) throw new McpError(RpcCode.Forbidden, 'No authenticated principal for this call');
    return p;
  }

  /** KV confined to the calling principal's tenant (keys `tenant-<namespace>:<type>:<id>`). */
  protected tenantKv(): TenantKv {
    return new TenantKv(this.env.DATA_KV, tenantNamespace(this.principal()));
  }

  /** R2 confined to the calling principal's tenant (objects under `tenant-<namespace>/`). */
  protected tenantFiles(): TenantFiles {
    return new TenantFiles(this.env.FILES, tenantNamespace(this.principal()));
  }

  private async guard(method: string, request: RawRequest, extra: HandlerExtra, next: () => Promise<unknown>): Promise<unknown> {
    const principal = decodePrincipal(headerValue(extra, PRINCIPAL_HEADER));
    if (!principal) {
      // The only request without transport info is the SDK replaying the stored initialize after a restart.
      if (method === 'initialize' && !extra.requestInfo) return next();
      log('warn', 'denied', { reason: 'no authenticated principal', method });
      this.recordAudit({ tenant: null, action: method, result: 'denied', details: { reason: 'no authenticated principal' } });
      throw new McpError(RpcCode.Forbidden, 'Access denied: no authenticated principal');
    }
    return guardRequest(
      method,
      request,
      {
        principal,
        era: '2025',
        session: this.getSessionId(),
        correlationId: headerValue(extra, CORRELATION_FORWARD_HEADER),
        ip: headerValue(extra, CLIENT_IP_FORWARD_HEADER),
        toolPolicy: (name) => this.toolPolicy(name),
        before: async () => {
          await this.bindOwner(principal);
          await this.postponeExpiry();
        },
        run: (fn) => this.calls.run(principal, async () => fn()),
        record: this.auditRequests ? (event, sensitive) => this.recordAudit(event, sensitive) : undefined,
      },
      next,
    );
  }

  /**
   * Every request pushes the idle expiry back, through the Agents SDK scheduler (which owns the
   * object's alarm). To keep the hot path cheap the schedule is only rewritten once the due time
   * would move by more than a small slack, and it is set `idle + slack` ahead, so a session never
   * ends before it has been idle for the configured time.
   */
  private async postponeExpiry(): Promise<void> {
    const { delay, slack } = expiryDelayMs(sessionIdleMs(this.env));
    const due = Date.now() + delay;
    if (due - this.expiryDue < slack) return;
    if (this.expiryId === undefined) this.expiryId = (await this.ctx.storage.get<string>(EXPIRY_KEY)) ?? null;
    if (this.expiryId) await this.cancelSchedule(this.expiryId);
    const schedule = await this.schedule(new Date(due), EXPIRE_CALLBACK);
    await this.ctx.storage.put(EXPIRY_KEY, schedule.id);
    this.expiryId = schedule.id;
    this.expiryDue = due;
  }

  /** Arm the idle expiry unless one is already scheduled (at startup; requests postpone it). */
  private async armExpiryOnce(): Promise<void> {
    if (this.expiryId === undefined) this.expiryId = (await this.ctx.storage.get<string>(EXPIRY_KEY)) ?? null;
    if (!this.expiryId) await this.postponeExpiry();
  }

  /**
   * @internal Scheduler callback: the session has been idle for the configured time. The outbox is
   * shipped first; then the tenant's session slot is released (the one release for an idle
   * session, see src/limits/session-slots.ts) and the storage destroyed. When the teardown cannot
   * finish (beforeSessionEnd could not ship the audit outbox), the storage stays and expiry is
   * tried again a minute later.
   */
  async expireIdleSession(): Promise<void> {
    try {
      await this.beforeSessionEnd();
      // The owner is bound at the first request; a stream dropped before any has only the gate's props.
      const owner = this.owner ?? (await this.ctx.storage.get<string>(OWNER_KEY));
      const tenant = owner?.split('|')[0] ?? this.props?.tenantId;
      if (tenant) await releaseSlot(this.env, tenant, this.name);
      await this.destroy();
    } catch (error) {
      log('warn', 'session.expiry_deferred', { error: String(error).slice(0, 200) });
      const schedule = await this.schedule(60, EXPIRE_CALLBACK);
      await this.ctx.storage.put(EXPIRY_KEY, schedule.id);
      this.expiryId = schedule.id;
    }
  }

  /**
   * Ends the session for good: the `beforeSessionEnd` hook, then the SDK's teardown (drops every
   * table, clears the alarm, deletes all storage). Every way a session ends runs through here:
   * idle expiry calls it directly, and the SDK's deferred teardown after a DELETE, an eviction or
   * an End from the dashboard calls it from the alarm. The session slot is not touched here: whoever
   * ended the session has released it already (src/limits/session-slots.ts).
   */
  override async destroy(): Promise<void> {
    await this.beforeSessionEnd();
    await super.destroy();
  }

  private async bindOwner(principal: Principal): Promise<void> {
    const key = ownerKey(principal);
    if (this.owner === undefined) this.owner = (await this.ctx.storage.get<string>(OWNER_KEY)) ?? null;
    if (this.owner === null) {
      await this.ctx.storage.put(OWNER_KEY, key);
      this.owner = key;
    } else if (this.owner !== key) {
      log('warn', 'denied', { reason: 'session owned by another principal', tenant: principal.tenantId, principal: key, server: principal.server });
      throw new McpError(RpcCode.SessionNotFound, 'Session not found');
    }
  }

  /**
   * Where the policy of a tool comes from: by default the tool as registered on the server. A server
   * whose tools are not registered through `registerTool` (the gateway relays an upstream's) overrides
   * this so the same role policy applies; runs inside the call, so `principal()` is available.
   */
  protected toolPolicy(name: string): ToolPolicySource | undefined | Promise<ToolPolicySource | undefined> {
    return this.registeredTool(name);
  }

  private registeredTool(name: string): (ToolPolicySource & { _meta?: Record<string, unknown> }) | undefined {
    const tools = (this.server as unknown as McpServerInternals)._registeredTools;
    return Object.hasOwn(tools, name) ? tools[name] : undefined;
  }
}

function headerValue(extra: HandlerExtra, name: string): string | undefined {
  const value = extra.requestInfo?.headers?.[name];
  return Array.isArray(value) ? value[0] : value;
}
