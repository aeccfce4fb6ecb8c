import { inputRequired, McpServer, ProtocolError, ResourceTemplate, type CacheHint, type ServerContext } from '@modelcontextprotocol/server';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/server/validators/cf-worker';
import { DEFAULT_CAPABILITIES, type PlatformCall, type ServerDefinition } from '../hosted/author-api';
import { installChokePoint, isGuarded } from '../hosted/choke-point';
import { guardRequest, refuse, type GuardScope } from '../hosted/request-guard';
import type { ToolPolicySource } from '../hosted/tool-policy';
import { RpcCode } from '../http/responses';
import { log } from '../observability/log';
import { InputNeeded, modernCall, type ModernScope } from './modern-call';
import { mintRequestState, openRequestState, type Operation } from './request-state';

/** Result caching hints (2026-07-28): lists are per caller (filtered by role), so private. */
const CACHE_HINTS: Partial<
  Record<'tools/list' | 'prompts/list' | 'resources/list' | 'resources/templates/list' | 'resources/read' | 'server/discover', CacheHint>
> = {
  'server/discover': { ttlMs: 300_000, cacheScope: 'private' },
  'tools/list': { ttlMs: 60_000, cacheScope: 'private' },
  'prompts/list': { ttlMs: 60_000, cacheScope: 'private' },
  'resources/list': { ttlMs: 60_000, cacheScope: 'private' },
  'resources/templates/list': { ttlMs: 60_000, cacheScope: 'private' },
  'resources/read': { ttlMs: 0, cacheScope: 'private' },
};

/** What the per-request server needs besides the definition. */
export interface ModernServerScope extends ModernScope {
  guard: Omit<GuardScope, 'toolPolicy' | 'run' | 'era'>;
  /**
   * The tool a `tools/call` names, when the definition has it: only that tool is registered on the
   * request's server (its policy still comes from the whole definition). A call is the hot path, and
   * registering every tool of a large server per request costs more than the call itself.
   */
  onlyTool?: string;
}

const validator = new CfWorkerJsonSchemaValidator();

/**
 * Platform-internal (not the author API): a definition whose requests are answered elsewhere (a
 * tenant upstream, src/gateway/modern-upstream.ts) installs raw request handlers after its
 * registrations. They are set on the guarded handler table, so they sit behind the same choke
 * point (role policy from the registered tools, one audit event per request).
 */
export interface RelayingDefinition extends ServerDefinition {
  installRelays(server: McpServer, scope: ModernServerScope): void;
}

/**
 * Opens the `requestState` a client echoed for this operation, or refuses the request (the guard
 * audits the refusal once): one place decides what a bad, foreign or replayed state costs the
 * caller, for the platform's own handlers and the gateway's relayed ones alike.
 */
export async function openCallerState(scope: ModernServerScope, op: Operation, raw: string): Promise<Record<string, unknown>> {
  const opened = await openRequestState(scope.secret, scope.env.DB, scope.principal, op, raw);
  if (!('refusal' in opened)) return opened.answers;
  log('warn', 'denied', {
    reason: `requestState refused (${opened.refusal})`,
    tenant: scope.principal.tenantId,
    server: scope.principal.server,
    action: op.method,
    resource: op.name,
  });
  return refuse(new ProtocolError(RpcCode.InvalidParams, 'Invalid or expired requestState', { reason: 'invalid_request_state' }));
}

/**
 * Runs a definition handler statelessly: verifies the echoed `requestState` (signed, bound to
 * this caller and operation, single-use), runs the handler with the answers so far, and ends the
 * call `input_required` (with a fresh signed state carrying the answers used) when the handler
 * stopped at an unanswered input.
 */
async function runStateless<T>(
  scope: ModernServerScope,
  ctx: ServerContext,
  op: Operation,
  run: (call: PlatformCall) => Promise<T> | T,
): Promise<T | ReturnType<typeof inputRequired>> {
  const raw = ctx.mcpReq.requestState();
  const carried = typeof raw === 'string' ? await openCallerState(scope, op, raw) : {};
  const m = modernCall(scope, ctx, carried, typeof raw === 'string');
  let result: T | undefined;
  try {
    result = await run(m.call);
  } catch (error) {
    if (!m.pending()) throw error;
  }
  const pending = m.pending();
  if (!pending) return result as T;
  return inputRequired({ inputRequests: pending as never, requestState: await mintRequestState(scope.secret, scope.principal, op, m.consumed()) });
}

/**
 * Build the SDK v2 server for one stateless request: the definition's registrations (computed
 * once per isolate) bound to this request's caller, every request handler behind the same guard
 * as the 2025 lane (role policy, filtered tools/list, one audit event with era 2026-07-28).
 */
export function buildModernServer(definition: ServerDefinition, scope: ModernServerScope): McpServer {
  const { info } = definition;
  const r = definition.registrations();
  const server = new McpServer(
    { name: info.name, version: info.version, title: info.title },
    {
      capabilities: (info.capabilities ?? DEFAULT_CAPABILITIES) as never,
      instructions: info.instructions,
      jsonSchemaValidator: validator,
      cacheHints: CACHE_HINTS,
    },
  );
  const policies = new Map<string, ToolPolicySource>(r.tools.map((t) => [t.name, { annotations: t.spec.annotations, _meta: t.spec._meta }]));
  installChokePoint(server as never, (method, request, _extra, next) =>
    guardRequest(method, request, { ...scope.guard, era: '2026-07-28', toolPolicy: (name) => policies.get(name), run: async (fn) => fn() }, next),
  );

  const only = scope.onlyTool !== undefined && policies.has(scope.onlyTool) ? scope.onlyTool : undefined;
  for (const { name, spec, handler } of r.tools) {
    if (only !== undefined && name !== only) continue;
    const config = { title: spec.title, description: spec.description, inputSchema: spec.inputSchema, annotations: spec.annotations, _meta: spec._meta };
    const op = (args: unknown): Operation => ({ method: 'tools/call', name, args: args ?? {} });
    if (spec.inputSchema === undefined)
      server.registerTool(name, config as never, ((ctx: ServerContext) => runStateless(scope, ctx, op({}), (call) => handler({} as never, call))) as never);
    else
      server.registerTool(
        name,
        config as never,
        ((args: never, ctx: ServerContext) => runStateless(scope, ctx, op(args), (call) => handler(args, call))) as never,
      );
  }
  if (only !== undefined) return guarded(server, definition, scope);
  for (const { name, uri, spec, read } of r.resources) {
    server.registerResource(name, uri, spec, ((url: URL, ctx: ServerContext) =>
      runStateless(scope, ctx, { method: 'resources/read', name: url.href, args: {} }, (call) => read(url, call))) as never);
  }
  for (const { name, template, spec, read } of r.templates) {
    const complete = template.complete ? Object.fromEntries(Object.entries(template.complete).map(([k, fn]) => [k, (value: string) => fn(value)])) : undefined;
    server.registerResource(name, new ResourceTemplate(template.uriTemplate, { list: undefined, complete }), spec, ((
      url: URL,
      variables: Record<string, string | string[]>,
      ctx: ServerContext,
    ) => runStateless(scope, ctx, { method: 'resources/read', name: url.href, args: {} }, (call) => read(url, variables, call))) as never);
  }
  for (const { name, spec, get } of r.prompts) {
    const argsSchema = spec.argsSchema;
    const config = { title: spec.title, description: spec.description, argsSchema };
    const op = (args: unknown): Operation => ({ method: 'prompts/get', name, args: args ?? {} });
    if (argsSchema === undefined)
      server.registerPrompt(name, config as never, ((ctx: ServerContext) => runStateless(scope, ctx, op({}), (call) => get({}, call))) as never);
    else
      server.registerPrompt(
        name,
        config as never,
        ((args: Record<string, string>, ctx: ServerContext) => runStateless(scope, ctx, op(args), (call) => get(args, call))) as never,
      );
  }
  return guarded(server, definition, scope);
}

function guarded(server: McpServer, definition: ServerDefinition, scope: ModernServerScope): McpServer {
  if ('installRelays' in definition) (definition as RelayingDefinition).installRelays(server, scope);
  if (!isGuarded(server as never)) throw new Error(`${definition.info.name}: request handlers were replaced after setup; refusing to serve unguarded`);
  return server;
}

export { InputNeeded };
