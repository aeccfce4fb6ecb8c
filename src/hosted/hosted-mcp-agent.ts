import { AsyncLocalStorage } from 'node:async_hooks';
import { McpAgent } from 'agents/mcp';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import { McpError, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { DEFAULT_CAPABILITIES, type HostedServerInfo, type ServerDefinition, type SessionSql } from './author-api';
import { AuditShipping } from './audit-shipping';
import { SessionAudit } from './session-audit';
import { installChokePoint, isGuarded, type HandlerExtra, type RawRequest } from './choke-point';
import { registerLegacy } from './legacy-adapter';
import { CLIENT_IP_FORWARD_HEADER, CORRELATION_FORWARD_HEADER, decodePrincipal, PRINCIPAL_HEADER, tenantNamespace, type Principal } from './principal';
import { guardRequest } from './request-guard';
import { SessionExpiry } from './session-expiry';
import { serveSessionHttp, type SessionHttpHost } from './session-http';
import { RESTORE_REQUEST_ID, SessionHttpTransport } from './session-http-transport';
import { SessionOwner } from './session-owner';
import type { SessionScheduler } from './session-scheduler';
import { registeredToolPolicy, type ToolPolicySource } from './tool-policy';
import type { AuditEventInput } from '../audit/audit-event';
import { toAuditEvent } from '../audit/audit-record';
import { confineObjectRequest } from '../gate/forward-headers';
import { rpcError, RpcCode } from '../http/responses';
import { log } from '../observability/log';
import { platformSecret, sessionIdleMs } from '../config';
import { releaseSlot } from '../limits/session-slots';
import { TenantFiles } from '../storage/tenant-files';
import { TenantKv } from '../storage/tenant-kv';

export type { HostedServerInfo } from './author-api';

/**
 * The base class of every hosted MCP server: one Durable Object per MCP session.
 *
 * Server authors implement `info` and `register(server)` (or set a `definition`); they never see
 * an unguarded server. Every request handler runs behind `guard`, which requires the principal
 * the gate attached and applies the per-request policy (src/hosted/request-guard.ts). Each of the
 * session's jobs has its own home, and this class only wires them to the object:
 * - the choke point and policy: `choke-point.ts`, `request-guard.ts`, `tool-policy.ts`;
 * - owner binding: `session-owner.ts`;
 * - idle expiry: `session-expiry.ts` (what ends a session is `expireIdleSession` below);
 * - audit: `session-audit.ts` (events to the tenant's store, batched per isolate) and
 *   `audit-shipping.ts` (the session's own outbox, for what a failed delivery carried);
 * - Streamable HTTP served in the object, without the framework's WebSocket bridge:
 *   `session-http.ts` and `session-http-transport.ts`. The legacy HTTP+SSE transport (`sse:`
 *   objects) stays on the framework's own transport and bridge;
 * - the session's quota slot: `src/limits/session-slots.ts`.
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

  private readonly calls = new AsyncLocalStorage<Principal>();
  private readonly jobs: SessionScheduler = {
    schedule: (when, callback, payload, options) => this.schedule(when, callback as keyof this, payload, options),
    cancelSchedule: (id) => this.cancelSchedule(id),
  };
  private readonly owner = new SessionOwner(this.ctx.storage);
  private readonly expiry = new SessionExpiry(this.ctx.storage, this.jobs, () => sessionIdleMs(this.env));
  private readonly shipping = new AuditShipping(this.ctx.storage.sql, this.jobs);
  private readonly audit = new SessionAudit(this.env, this.ctx, this.shipping);
  /** Streamable HTTP sessions only: the transport the object serves requests with. */
  private http?: SessionHttpTransport;
  /** Whether the Streamable HTTP session is open (initialized, not ended); undefined until read. */
  private open?: boolean;

  /**
   * @internal Every request into the object keeps only the headers the transports, the SDK's
   * bridge and the platform set (forward-headers.ts): defence in depth behind the gate's
   * allowlist, since the SDK obeys some headers (`x-cf-agents-subagent-url`) as instructions.
   */
  override async fetch(request: Request): Promise<Response> {
    return super.fetch(confineObjectRequest(request));
  }

  /**
   * @internal Starts the session. Streamable HTTP sessions (`streamable-http:<id>`) are served by
   * the object itself (`onRequest`), with the SDK's web-standard transport in place of the
   * framework's WebSocket-bridged one; every other transport starts as the framework does.
   */
  override async onStart(props?: Principal): Promise<void> {
    if (this.getTransportType() !== 'streamable-http') return super.onStart(props);
    // McpAgent.onStart's steps, with the platform's transport.
    if (props) await this.updateProps(props);
    else this.props = await this.ctx.storage.get<Principal>('props');
    await this.init();
    const transport = new SessionHttpTransport(this.getSessionId(), this.ctx.storage);
    // The framework's own code sends through its private transport field. (Its `elicitInput` helper
    // resolves answers only through its bridged transport: servers elicit through the SDK server,
    // `call.elicit` or `server.server.elicitInput`, which this transport serves.)
    (this as unknown as { _transport?: unknown })._transport = transport;
    this.http = transport;
    await this.server.connect(transport);
    const initialize = await this.getInitializeRequest();
    this.open = initialize !== undefined;
    if (initialize) {
      // Restarted after eviction: the client's capabilities come back from the stored initialize.
      transport.restore(this.getSessionId());
      transport.onmessage?.({ ...(initialize as object), id: RESTORE_REQUEST_ID } as JSONRPCMessage);
    }
  }

  /** @internal The gate's one call for a Streamable HTTP request of this session (src/gate/session-route.ts). */
  override async onRequest(request: Request): Promise<Response> {
    const transport = this.http;
    if (!transport) return rpcError(404, RpcCode.InvalidRequest, 'Not found');
    this.httpHost ??= {
      transport,
      live: async () => (this.open ??= (await this.getInitializeRequest()) !== undefined),
      opening: async (initialize, opened) => {
        const principal = decodePrincipal(opened.headers.get(PRINCIPAL_HEADER) ?? undefined);
        if (principal) await this.updateProps(principal);
        await this.setInitializeRequest(initialize);
        this.open = true;
      },
      terminate: () => this._cf_terminateSession(),
    };
    return serveSessionHttp(this.httpHost, request);
  }

  /** What the Streamable HTTP entry borrows from this object, built at its first request (not per request). */
  private httpHost?: SessionHttpHost;

  /**
   * @internal Ends the session at once for every later request (its owner's DELETE, an eviction, an
   * End from the dashboard): the framework clears the stored initialize and schedules the teardown;
   * open streams of a Streamable HTTP session are closed here.
   */
  override async _cf_terminateSession(): Promise<void> {
    await super._cf_terminateSession();
    this.open = false;
    await this.http?.close();
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
    this.shipping.resumeAtStartup();
    // Every path that creates a session object (initialize, a legacy SSE stream dropped before
    // any message) gets an idle expiry from its first start, so no storage is ever orphaned.
    await this.expiry.armOnce();
  }

  /**
   * Runs before the session's storage is destroyed (idle expiry, DELETE): waits for the batches
   * carrying its events, then ships its own outbox to the audit store and throws when it cannot,
   * so the caller keeps the storage and tries again later.
   */
  protected async beforeSessionEnd(): Promise<void> {
    await this.audit.drain();
    await this.shipping.shipNow(this.env);
  }

  /** @internal Scheduler callback: ship the audit outbox (audit-shipping.ts). */
  async shipAuditOutbox(payload?: { attempt?: number }): Promise<void> {
    await this.shipping.shipScheduled(this.env, payload?.attempt ?? 0);
  }

  /**
   * Record an audit event from this session object, off the request's path: to the tenant's store
   * through the isolate's batcher, or into the session's own outbox when that delivery fails
   * (session-audit.ts).
   * The one way a session object records (src/audit/record.ts); the guard already records each request.
   */
  protected recordAudit(event: AuditEventInput, sensitive?: ReadonlySet<string>): void {
    this.audit.record(toAuditEvent(event, sensitive));
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
          await this.owner.bind(principal);
          await this.expiry.postpone();
        },
        run: (fn) => this.calls.run(principal, async () => fn()),
        record: (event, sensitive) => this.recordAudit(event, sensitive),
      },
      next,
    );
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
      const tenant = (await this.owner.tenant()) ?? this.props?.tenantId;
      if (tenant) await releaseSlot(this.env, tenant, this.name);
      await this.destroy();
    } catch (error) {
      log('warn', 'session.expiry_deferred', { error: String(error).slice(0, 200) });
      await this.expiry.retrySoon();
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

  /**
   * Where the policy of a tool comes from: by default the tool as registered on the server. A server
   * whose tools are not registered through `registerTool` (the gateway relays an upstream's) overrides
   * this so the same role policy applies; runs inside the call, so `principal()` is available.
   */
  protected toolPolicy(name: string): ToolPolicySource | undefined | Promise<ToolPolicySource | undefined> {
    return registeredToolPolicy(this.server, name);
  }
}

function headerValue(extra: HandlerExtra, name: string): string | undefined {
  const value = extra.requestInfo?.headers?.[name];
  return Array.isArray(value) ? value[0] : value;
}
