import { fromJsonSchema, ProtocolError, type McpServer, type ServerContext } from '@modelcontextprotocol/server';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/server/validators/cf-worker';
import { recordAuditInBackground } from '../audit/record';
import { defineServer, type ServerDefinition } from '../hosted/author-api';
import type { Principal } from '../hosted/principal';
import { refuse } from '../hosted/request-guard';
import { rpcError } from '../http/responses';
import type { ModernServerScope, RelayingDefinition } from '../modern/modern-server';
import type { ModernModule } from '../tenant-servers/module-definition';
import { relayInput, type InputRelay } from './input-relay';
import { withRetries } from './retry';
import type { ExposedTool } from './tool-view';
import { openUpstream } from './upstream-client';
import { asFault, isUpstreamFault, type UpstreamHooks } from './upstream-connection';
import { GatewayCode } from './upstream-errors';
import { cacheQuery, invalidates } from './response-cache-model';
import { requestContext } from '../observability/request-context';
import { upstreamStub, type AdmitResult, type UpstreamKey } from './upstream-state';

/**
 * Tenant upstreams for 2026-07-28 clients (the stateless lane). The upstream's approved,
 * policy-filtered tools are registered on a per-request server definition, so the lane's guard
 * applies the same role policy (annotations, the tenant's `minRoles`) and records the same audit
 * event per request as for any hosted server; `tools/list` is served from the state object's cache.
 * Every other request the 2025 gateway session relays (`tools/call`, `resources/list|read`,
 * `resources/templates/list`, `prompts/list|get`, `completion/complete`) is a raw handler behind
 * that same guard, relayed per request: admitted by the upstream's state object (breaker, pins),
 * balanced per request over the replicas, sent in the era the replica speaks (stateless 2026-07-28
 * requests, or a fresh 2025 connection), retried on another replica when the operation may be,
 * and reported back. An upstream's `input_required` is relayed with its requestState wrapped and
 * bound to the caller (input-relay.ts).
 */

const validator = new CfWorkerJsonSchemaValidator();

/** What the stateless lane relays besides tools/list; the 2025 session relays the same set (gateway-server.ts). */
export const RELAYED_METHODS = [
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'prompts/list',
  'prompts/get',
  'completion/complete',
] as const;
type Relayed = (typeof RELAYED_METHODS)[number];

/** A short, stable fingerprint of the exposed tools (the lane caches one definition per key). */
function fingerprint(tools: ExposedTool[]): string {
  let h = 0x811c9dc5;
  for (const c of JSON.stringify(tools.map((t) => t.definition))) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(36);
}

/** The stateless lane's view of a tenant upstream (same shape as a deployed module's). */
export function modernUpstream(env: Env, principal: Principal): ModernModule {
  const key: UpstreamKey = { tenant: principal.tenantId, name: principal.server };
  let built: Promise<{ key: string; definition: ServerDefinition } | Response> | null = null;
  const load = () =>
    (built ??= (async () => (await upstreamStub(env, key).tools(key)) as ExposedTool[])()
      .then((tools) => ({ key: `upstream:${key.tenant}/${key.name}:${fingerprint(tools)}`, definition: build(env, key, tools) }))
      .catch((error: unknown) => rpcError(200, GatewayCode.Unavailable, `Upstream "${key.name}" is unavailable: ${asFault(error, 'tools/list').message}`)));
  const module = {
    key: `upstream:${key.tenant}/${key.name}`,
    definition: async () => {
      const loaded = await load();
      if (loaded instanceof Response) return loaded;
      module.key = loaded.key; // read by the lane after definition(): a changed tool set gets a fresh handler
      return loaded.definition;
    },
  };
  return module;
}

function build(env: Env, key: UpstreamKey, tools: ExposedTool[]): RelayingDefinition {
  const capabilities = { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true }, completions: {}, logging: {} };
  const definition = defineServer({ name: 'smcp-gateway', version: '0.1.0', title: key.name, capabilities }, (server) => {
    for (const tool of tools) {
      const d = tool.definition;
      server.tool(
        tool.name,
        {
          title: d.title as string | undefined,
          description: d.description as string | undefined,
          inputSchema: fromJsonSchema(d.inputSchema as never, validator) as never,
          annotations: tool.annotations,
          _meta: tool._meta,
        },
        // Never reached: installRelays replaces the tools/call handler (the registration carries policy and tools/list).
        async () => refuse(new ProtocolError(GatewayCode.Unavailable, 'tools/call is relayed')),
      );
    }
  });
  return {
    ...definition,
    installRelays(server: McpServer, scope: ModernServerScope) {
      const low = server.server as unknown as { setRequestHandler(method: string, handler: (request: unknown, ctx: ServerContext) => Promise<unknown>): void };
      for (const method of RELAYED_METHODS)
        low.setRequestHandler(method, (request, ctx) =>
          relay(env, key, scope, method, ((request as { params?: object }).params ?? {}) as Record<string, unknown>, ctx),
        );
    },
  };
}

/** The request's params as the upstream should see them: the exposed tool name mapped back, the platform's own `_meta` and MRTR fields dropped. */
function upstreamParams(method: Relayed, params: Record<string, unknown>, tool: ExposedTool | undefined): Record<string, unknown> {
  const { _meta: _m, inputResponses: _i, requestState: _s, ...rest } = params;
  return method === 'tools/call' ? { name: tool!.upstreamName, arguments: rest.arguments ?? {} } : rest;
}

/** One relayed request: admit, pick a replica, send in its era, fail over when the operation may be retried, report, audit faults. */
async function relay(
  env: Env,
  key: UpstreamKey,
  scope: ModernServerScope,
  method: Relayed,
  params: Record<string, unknown>,
  ctx: ServerContext,
): Promise<unknown> {
  const state = upstreamStub(env, key);
  const exposedName = method === 'tools/call' ? String(params.name ?? '') : undefined;
  // The client's requestState is checked first: a refused one never takes a replica's open-call slot.
  const input: InputRelay = await relayInput(scope, method, exposedName ?? String(params.name ?? params.uri ?? ''), params, ctx);
  // A first round of a cacheable read asks the response cache inside admit; a continuation (requestState, inputResponses) never does.
  const continuation = typeof ctx.mcpReq.requestState() === 'string' || params.inputResponses !== undefined || params.requestState !== undefined;
  const query = continuation ? undefined : cacheQuery(scope.principal, params);
  const admitted = (await state.admit(key, method, exposedName, undefined, query)) as AdmitResult;
  if (!admitted.ok) refuse(new ProtocolError(admitted.code, admitted.message));
  if (admitted.hit) return admitted.value as never;
  const { settings, tool } = admitted;
  const sent = { ...upstreamParams(method, params, tool), ...input.upstreamFields };
  const progressToken = ctx.mcpReq._meta?.progressToken;
  const hooks: UpstreamHooks = {
    onNotification: (n) => {
      // Change notifications seen during the call invalidate cached answers, as on the session lane.
      if (invalidates(n.method)) void state.upstreamChanged(key, n.method, n.params as { uri?: unknown }).catch(() => undefined);
      void ctx.mcpReq.notify(n as never).catch(() => undefined);
    },
    onToolsChanged: () => void state.toolsChanged(key).catch(() => undefined),
    // A 2025 upstream's server-to-client request cannot be carried across stateless rounds: refused, audited (docs/gateway.md).
    onSampling: () => notOffered(key, 'sampling'),
    onElicitation: () => notOffered(key, 'elicitation'),
  };
  const idempotent = method !== 'tools/call' || tool?.annotations?.idempotentHint === true;
  const tried: number[] = [];
  let replica: number | null = admitted.replica;
  let era = '2025';
  try {
    const result = await withRetries(
      async () => {
        const current = replica ?? (await state.failover(key, tried)) ?? (await state.failover(key, []));
        replica = null;
        if (current === null) throw new ProtocolError(GatewayCode.Unavailable, 'every replica is taken out after failures');
        tried.push(current);
        const started = Date.now();
        try {
          const client = await openUpstream(await state.target(key, current), hooks, { input: 'relay', capabilities: input.capabilities });
          era = client.era;
          try {
            const out = await client.request(method, sent, {
              timeout: settings.requestTimeoutMs,
              maxTotalTimeout: settings.responseTimeoutMs,
              resetTimeoutOnProgress: true,
              signal: ctx.mcpReq.signal,
              onprogress:
                progressToken === undefined
                  ? undefined
                  : (p) => void ctx.mcpReq.notify({ method: 'notifications/progress', params: { ...p, progressToken } } as never).catch(() => undefined),
            });
            await state.reportReplica(key, current, false, Date.now() - started);
            return out;
          } finally {
            await client.close().catch(() => undefined);
          }
        } catch (error) {
          await state.reportReplica(key, current, isUpstreamFault(error), Date.now() - started, String(error).slice(0, 200));
          throw error;
        }
      },
      { retries: idempotent ? settings.retries : 0, baseMs: settings.retryBaseMs, retryable: isUpstreamFault },
    );
    await state.report(key, true);
    const answer = await input.wrap(result);
    if (admitted.ticket) {
      // Stored off the response path; storeResponse keeps only complete, non-error results.
      const stored = state.storeResponse(key, admitted.ticket, answer).catch(() => undefined);
      const context = requestContext();
      if (context) context.ctx.waitUntil(stored);
      else await stored;
    }
    return answer;
  } catch (error) {
    const fault = isUpstreamFault(error);
    await state.report(key, !fault, String(error).slice(0, 200));
    const code = (error as { code?: unknown }).code;
    if (!fault && typeof code === 'number') refuse(new ProtocolError(code, (error as Error).message, (error as { data?: unknown }).data)); // the upstream's own answer
    void recordAuditInBackground({
      tenant: key.tenant,
      action: 'gateway.upstream_error',
      result: 'error',
      server: key.name,
      resource: exposedName,
      details: { op: method, era: '2026-07-28', upstreamEra: era, reason: asFault(error, method).message.slice(0, 200) },
    });
    refuse(new ProtocolError(GatewayCode.Unavailable, `Upstream "${key.name}" failed: ${asFault(error, method).message}`));
  }
}

function notOffered(key: UpstreamKey, kind: 'sampling' | 'elicitation'): never {
  void recordAuditInBackground({
    tenant: key.tenant,
    action: `gateway.${kind}_refused`,
    result: 'denied',
    server: key.name,
    details: { era: '2026-07-28', reason: 'a 2025 upstream asked a stateless client mid-call' },
  });
  throw new ProtocolError(GatewayCode.NotOffered, `The upstream asked for ${kind} inside a 2025 session, which cannot be relayed to a 2026-07-28 client`);
}
