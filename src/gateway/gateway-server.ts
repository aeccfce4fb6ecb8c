import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type ServerNotification,
} from '@modelcontextprotocol/sdk/types.js';
import { HostedMcpAgent, type HostedServerInfo } from '../hosted/hosted-mcp-agent';
import type { HandlerExtra } from '../hosted/choke-point';
import type { ToolPolicySource } from '../hosted/tool-policy';
import { log } from '../observability/log';
import { withRetries } from './retry';
import type { ExposedTool } from './tool-view';
import { MODERN_VERSION, type UpstreamEra } from './modern-wire';
import { openUpstream, usedClientInput, type UpstreamClient } from './upstream-client';
import { asFault, isUpstreamFault } from './upstream-connection';
import { GatewayCode } from './upstream-errors';
import { cacheQuery, invalidates } from './response-cache-model';
import { upstreamStub, type AdmitResult, type UpstreamKey } from './upstream-state';

interface Connection {
  version: number;
  /** The replica this upstream session lives on (sticky for the session's life, unless it is taken out). */
  replica: number;
  /** The SDK client's session on a 2025 replica, or stateless requests on a 2026-07-28 replica (upstream-client.ts). */
  client: Promise<UpstreamClient>;
  /** Known once the client is open: a 2026-07-28 replica has no upstream session, so the session's calls balance per request. */
  era?: UpstreamEra;
}

/**
 * The gateway: one Durable Object per MCP session on a tenant's upstream (`/servers/<name>/mcp`
 * where `<name>` is an upstream the tenant registered). Each session connects to the upstream with
 * the official SDK client and relays tools, resources and prompts through the platform's choke
 * point, so role policy, owner binding and audit apply exactly as for hosted servers. Everything
 * shared by the upstream's sessions (breaker, tools cache, pins, OAuth token, health) lives in the
 * upstream's one `UpstreamState` object, asked before every call.
 */
export class GatewayServer extends HostedMcpAgent {
  protected override readonly info: HostedServerInfo = {
    name: 'smcp-gateway',
    version: '0.1.0',
    capabilities: { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true }, logging: {}, completions: {} },
  };

  private connection: Connection | null = null;
  private exposed = new Map<string, ExposedTool>();
  /** The downstream requests in flight, so upstream logging, sampling and elicitation go back on the right stream. */
  private readonly active = new Set<HandlerExtra>();

  protected override register(server: McpServer): void {
    const low = server.server;
    low.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: await this.listTools() }));
    low.setRequestHandler(CallToolRequestSchema, (req, extra) => this.callTool(req.params, extra) as never);
    // Each relayed as it is (the upstream's result, whichever era the upstream speaks); all idempotent, so retried on faults.
    // resources/read and prompts/get pass their params as the response cache's query (it decides whether to cache).
    const plain =
      (method: string, cacheable = false) =>
      (req: { params?: Record<string, unknown> }, extra: HandlerExtra) =>
        this.relay(method, extra, true, (c, o) => c.request(method, req.params, o), undefined, cacheable ? (req.params ?? {}) : undefined) as never;
    low.setRequestHandler(ListResourcesRequestSchema, plain('resources/list'));
    low.setRequestHandler(ListResourceTemplatesRequestSchema, plain('resources/templates/list'));
    low.setRequestHandler(ReadResourceRequestSchema, plain('resources/read', true));
    low.setRequestHandler(ListPromptsRequestSchema, plain('prompts/list'));
    low.setRequestHandler(GetPromptRequestSchema, plain('prompts/get', true));
    low.setRequestHandler(CompleteRequestSchema, plain('completion/complete'));
  }

  /** The session is ending: close the upstream connection too (the upstream session is deleted). */
  protected override async beforeSessionEnd(): Promise<void> {
    this.dropConnection();
    await super.beforeSessionEnd();
  }

  /** Tool policy from the upstream's tool (annotations) and the tenant's per-tool override. */
  protected override async toolPolicy(name: string): Promise<ToolPolicySource | undefined> {
    if (!this.exposed.has(name)) await this.listTools().catch(() => undefined);
    const tool = this.exposed.get(name);
    return tool ? { annotations: tool.annotations, _meta: tool._meta } : undefined;
  }

  private key(): UpstreamKey {
    const p = this.principal();
    // The session serves the upstream it was created for; the gate signs session ids per server name.
    const origin = this.props as { tenantId?: string; server?: string } | undefined;
    if (origin?.server && (origin.server !== p.server || origin.tenantId !== p.tenantId))
      throw new McpError(GatewayCode.Unavailable, 'Session belongs to another upstream');
    return { tenant: p.tenantId, name: p.server };
  }

  private async listTools(): Promise<Record<string, unknown>[]> {
    let tools: ExposedTool[];
    try {
      tools = await upstreamStub(this.env, this.key()).tools(this.key());
    } catch (error) {
      throw new McpError(GatewayCode.Unavailable, `Upstream "${this.key().name}" is unavailable: ${asFault(error, 'tools/list').message}`);
    }
    this.exposed = new Map(tools.map((t) => [t.name, t]));
    return tools.map((t) => t.definition);
  }

  private async callTool(params: { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> }, extra: HandlerExtra) {
    return this.relay(
      'tools/call',
      extra,
      (tool) => tool?.annotations?.idempotentHint === true,
      (client, options, tool) => client.request('tools/call', { name: tool!.upstreamName, arguments: params.arguments }, options) as never,
      params.name,
      params,
    );
  }

  /**
   * One upstream operation: ask the upstream's state object (breaker, pins), then call with the
   * configured timeouts, relaying progress; retry only idempotent operations, only on upstream
   * faults, with backoff and jitter; report the outcome back to the breaker. With `cacheable`
   * (the params of a read the response cache may answer), a cached answer comes back from `admit`
   * and the upstream is not called; a fresh answer is handed back to be stored.
   */
  private async relay<T>(
    op: string,
    extra: HandlerExtra,
    idempotent: boolean | ((tool?: ExposedTool) => boolean),
    run: (client: UpstreamClient, options: RequestOptions, tool?: ExposedTool) => Promise<T>,
    toolName?: string,
    cacheable?: Record<string, unknown>,
  ): Promise<T> {
    const key = this.key();
    const state = upstreamStub(this.env, key);
    // Sticky only to a 2025 replica (its upstream session); calls to a 2026-07-28 replica are stateless and balance per request.
    const sticky = this.connection && this.connection.era !== MODERN_VERSION ? this.connection.replica : undefined;
    const admitted = (await state.admit(key, op, toolName, sticky, cacheable && cacheQuery(this.principal(), cacheable))) as AdmitResult;
    if (!admitted.ok) throw new McpError(admitted.code, admitted.message);
    if (admitted.hit) return admitted.value as T;
    const { settings, tool } = admitted;
    const token = (extra as { _meta?: { progressToken?: string | number } })._meta?.progressToken;
    const options: RequestOptions = {
      timeout: settings.requestTimeoutMs,
      maxTotalTimeout: settings.responseTimeoutMs,
      resetTimeoutOnProgress: true,
      signal: extra.signal,
      onprogress:
        token === undefined
          ? undefined
          : (p) => void extra.sendNotification({ method: 'notifications/progress', params: { ...p, progressToken: token } }).catch(() => undefined),
    };
    const retries = (typeof idempotent === 'function' ? idempotent(tool) : idempotent) ? settings.retries : 0;
    this.active.add(extra);
    // Failover: each attempt runs on one replica; a retried attempt moves to a replica that has not failed this call.
    const tried: number[] = [];
    let replica: number | null = admitted.replica;
    try {
      const result = await withRetries(
        async () => {
          if (replica === null) {
            replica = (await state.failover(key, tried)) ?? (await state.failover(key, []));
            if (replica === null) throw new McpError(GatewayCode.Unavailable, 'every replica is taken out after failures');
          }
          const current: number = replica;
          tried.push(current);
          replica = null;
          const started = Date.now();
          try {
            const out = await run(await this.client(key, admitted.version, current), options, tool);
            this.ctx.waitUntil(state.reportReplica(key, current, false, Date.now() - started));
            return out;
          } catch (error) {
            const fault = isUpstreamFault(error);
            this.ctx.waitUntil(state.reportReplica(key, current, fault, Date.now() - started, String(error).slice(0, 200)));
            if (fault) this.dropConnection();
            throw error;
          }
        },
        {
          retries,
          baseMs: settings.retryBaseMs,
          retryable: isUpstreamFault,
          onRetry: (e, n) => log('info', 'gateway.retry', { tenant: key.tenant, server: key.name, op, retry: n, reason: String(e).slice(0, 200) }),
        },
      );
      this.ctx.waitUntil(state.report(key, true));
      // An answer shaped by this client's own input (a 2026-07-28 upstream's input_required, answered here) is not shared.
      if (admitted.ticket && !usedClientInput(result)) this.ctx.waitUntil(state.storeResponse(key, admitted.ticket, result));
      return result;
    } catch (error) {
      if (extra.signal.aborted) throw error;
      const fault = isUpstreamFault(error);
      this.ctx.waitUntil(state.report(key, !fault, String(error).slice(0, 200)));
      if (!fault && error instanceof McpError) throw error; // the upstream's own answer (bad params, unknown resource)
      const reason = asFault(error, op).message;
      this.recordAudit({
        tenant: key.tenant,
        action: 'gateway.upstream_error',
        result: 'error',
        server: key.name,
        resource: toolName,
        details: { op, reason: reason.slice(0, 200) },
      });
      throw new McpError(error instanceof McpError ? error.code : GatewayCode.Unavailable, `Upstream "${key.name}" failed: ${reason}`);
    } finally {
      this.active.delete(extra);
    }
  }

  private client(key: UpstreamKey, version: number, replica: number): Promise<UpstreamClient> {
    if (this.connection?.version === version && this.connection.replica === replica) return this.connection.client;
    this.dropConnection();
    const client = (async () =>
      // A 2026-07-28 replica's input_required is answered by asking this session's client (resolve mode), then retried.
      openUpstream(await upstreamStub(this.env, key).target(key, replica), {
        onNotification: (n) => {
          if (invalidates(n.method))
            this.ctx.waitUntil(
              upstreamStub(this.env, key)
                .upstreamChanged(key, n.method, n.params as { uri?: unknown })
                .catch(() => undefined),
            );
          this.forward(n);
        },
        onToolsChanged: () =>
          void upstreamStub(this.env, key)
            .toolsChanged(key)
            .catch(() => undefined),
        onSampling: (params) => this.askClient('sampling', params),
        onElicitation: (params) => this.askClient('elicitation', params),
      }))();
    const connection: Connection = { version, replica, client };
    this.connection = connection;
    client.then(
      (c) => void (connection.era = c.era),
      () => {
        if (this.connection === connection) this.connection = null;
      },
    );
    return client;
  }

  private dropConnection(): void {
    const old = this.connection;
    this.connection = null;
    old?.client.then((c) => c.close()).catch(() => undefined);
  }

  /** Relay an upstream notification: on the stream of the request in flight when there is one. */
  private forward(notification: ServerNotification): void {
    const current = [...this.active].at(-1);
    const send = current ? current.sendNotification(notification) : this.server.server.notification(notification);
    send.catch(() => undefined);
  }

  /** An upstream asked for sampling or elicitation: relay when the downstream client offered it, else refuse clearly. */
  private async askClient(kind: 'sampling' | 'elicitation', params: unknown): Promise<unknown> {
    const caps = this.server.server.getClientCapabilities();
    const current = [...this.active].at(-1);
    const key = this.key();
    if (!current || !(kind === 'sampling' ? caps?.sampling : caps?.elicitation)) {
      this.recordAudit({
        tenant: key.tenant,
        action: `gateway.${kind}_refused`,
        result: 'denied',
        server: key.name,
        details: { reason: 'client did not offer it' },
      });
      throw new McpError(GatewayCode.NotOffered, `The upstream asked for ${kind}, but the client did not offer ${kind}`);
    }
    const options = { relatedRequestId: current.requestId };
    return kind === 'sampling'
      ? this.server.server.createMessage(params as Parameters<typeof this.server.server.createMessage>[0], options)
      : this.server.server.elicitInput(params as Parameters<typeof this.server.server.elicitInput>[0], options);
  }
}
