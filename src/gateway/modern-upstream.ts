import { fromJsonSchema, ProtocolError } from '@modelcontextprotocol/server';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/server/validators/cf-worker';
import { recordAuditInBackground } from '../audit/record';
import { defineServer, type ServerDefinition } from '../hosted/author-api';
import type { Principal } from '../hosted/principal';
import { refuse } from '../hosted/request-guard';
import { rpcError } from '../http/responses';
import type { ModernModule } from '../tenant-servers/module-definition';
import { withRetries } from './retry';
import type { ExposedTool } from './tool-view';
import { asFault, connectUpstream, isUpstreamFault } from './upstream-connection';
import { GatewayCode } from './upstream-fetch';
import { cacheQuery, invalidates } from './response-cache-model';
import { requestContext } from '../observability/request-context';
import { upstreamStub, type AdmitResult, type UpstreamKey } from './upstream-state';

/**
 * Tenant upstreams for 2026-07-28 clients (the stateless lane): the upstream's approved, policy-
 * filtered tools become a per-request server definition, so the lane's guard applies the same role
 * policy (annotations, the tenant's `minRoles` in `_meta`) and records the same audit as for any
 * hosted server. Each `tools/call` is relayed on its own: admitted by the upstream's state object
 * (breaker, pins), balanced per request over the replicas, sent over a fresh 2025-era connection
 * to the upstream (the gateway still speaks the 2025 handshake to upstreams), retried on another
 * replica when the tool is idempotent, and reported back.
 */

const validator = new CfWorkerJsonSchemaValidator();

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

function build(env: Env, key: UpstreamKey, tools: ExposedTool[]): ServerDefinition {
  return defineServer({ name: 'smcp-gateway', version: '0.1.0', title: key.name, capabilities: { tools: { listChanged: true } } }, (server) => {
    for (const tool of tools) {
      const d = tool.definition;
      const inputSchema = fromJsonSchema(d.inputSchema as never, validator);
      server.tool(
        tool.name,
        {
          title: d.title as string | undefined,
          description: d.description as string | undefined,
          inputSchema: inputSchema as never,
          annotations: tool.annotations,
          _meta: tool._meta,
        },
        // The caller comes from the request (`call.principal`): the lane reuses one definition for every caller.
        async (args, call) => relayCall(env, key, tool.name, args as Record<string, unknown>, call.principal),
      );
    }
  });
}

/**
 * One stateless tools/call: admit (a response-cache hit is answered there), pick a replica, call on
 * a fresh connection, fail over if idempotent, report, and hand a cacheable answer back to be stored.
 */
async function relayCall(env: Env, key: UpstreamKey, exposedName: string, args: Record<string, unknown>, principal: Principal): Promise<never> {
  const state = upstreamStub(env, key);
  const query = cacheQuery(principal, { name: exposedName, arguments: args });
  const admitted = (await state.admit(key, 'tools/call', exposedName, undefined, query)) as AdmitResult;
  if (!admitted.ok) refuse(new ProtocolError(admitted.code, admitted.message));
  if (admitted.hit) return admitted.value as never;
  const { settings, tool } = admitted;
  const tried: number[] = [];
  let replica: number | null = admitted.replica;
  try {
    const result = await withRetries(
      async () => {
        const current = replica ?? (await state.failover(key, tried)) ?? (await state.failover(key, []));
        replica = null;
        if (current === null) throw new ProtocolError(GatewayCode.Unavailable, 'every replica is taken out after failures');
        tried.push(current);
        const started = Date.now();
        try {
          const client = await connectUpstream(await state.target(key, current), {
            // Change notifications seen during the call invalidate cached answers, as on the session lane.
            onNotification: (n) => void (invalidates(n.method) && state.upstreamChanged(key, n.method, n.params as { uri?: unknown }).catch(() => undefined)),
            onToolsChanged: () => void state.toolsChanged(key).catch(() => undefined),
          });
          try {
            const out = await client.callTool({ name: tool!.upstreamName, arguments: args }, undefined, {
              timeout: settings.requestTimeoutMs,
              maxTotalTimeout: settings.responseTimeoutMs,
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
      { retries: tool?.annotations?.idempotentHint === true ? settings.retries : 0, baseMs: settings.retryBaseMs, retryable: isUpstreamFault },
    );
    await state.report(key, true);
    if (admitted.ticket) {
      const stored = state.storeResponse(key, admitted.ticket, result).catch(() => undefined);
      const context = requestContext();
      if (context) context.ctx.waitUntil(stored);
      else await stored;
    }
    return result as never;
  } catch (error) {
    const fault = isUpstreamFault(error);
    await state.report(key, !fault, String(error).slice(0, 200));
    if (!fault && error instanceof ProtocolError) refuse(error);
    const code = (error as { code?: unknown }).code;
    void recordAuditInBackground({
      tenant: key.tenant,
      action: 'gateway.upstream_error',
      result: 'error',
      server: key.name,
      resource: exposedName,
      details: { op: 'tools/call', era: '2026-07-28', reason: asFault(error, 'tools/call').message.slice(0, 200) },
    });
    refuse(
      new ProtocolError(
        typeof code === 'number' && !fault ? code : GatewayCode.Unavailable,
        `Upstream "${key.name}" failed: ${asFault(error, 'tools/call').message}`,
      ),
    );
  }
}
