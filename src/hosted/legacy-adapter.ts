import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CreateMessageResultSchema,
  ElicitResultSchema,
  ListRootsResultSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type LoggingLevel,
} from '@modelcontextprotocol/sdk/types.js';
import type { ElicitAnswer, InputRequest, PlatformCall, Registrations, SampleAnswer, ServerDefinition, SessionSql } from './author-api';
import type { HandlerExtra } from './choke-point';
import { handleStore } from './handles';
import { tenantNamespace, type Principal } from './principal';
import { TenantFiles } from '../storage/tenant-files';
import { TenantKv } from '../storage/tenant-kv';

/** What the session object lends the definition's handlers. */
export interface LegacyHost {
  env: Env;
  secret: string;
  principal(): Principal;
  sessionId(): string;
  sql: SessionSql;
}

const RESULT_SCHEMAS = {
  'elicitation/create': ElicitResultSchema,
  'sampling/createMessage': CreateMessageResultSchema,
  'roots/list': ListRootsResultSchema,
} as const;

/** Is `level` filtered out by the session's `logging/setLevel`? The SDK's lookup is not public; feature-detected. */
function levelIgnored(server: McpServer, level: LoggingLevel, extra: HandlerExtra): boolean {
  const probe = (server.server as unknown as { isMessageIgnored?: unknown }).isMessageIgnored;
  if (typeof probe !== 'function') return false;
  const header = extra.requestInfo?.headers['mcp-session-id'];
  const sessionId = extra.sessionId || (typeof header === 'string' ? header : undefined);
  return (probe as (level: LoggingLevel, sessionId?: string) => boolean).call(server.server, level, sessionId) === true;
}

/** The platform call of one request in a session: input is a real server-to-client request on the POST stream. */
function legacyCall(host: LegacyHost, server: McpServer, extra: HandlerExtra): PlatformCall {
  const principal = host.principal();
  const input = async (requests: Record<string, InputRequest>): Promise<Record<string, unknown>> => {
    const answers: Record<string, unknown> = {};
    for (const [key, request] of Object.entries(requests)) {
      answers[key] = await extra.sendRequest({ method: request.method, params: request.params ?? {} } as never, RESULT_SCHEMAS[request.method], {
        signal: extra.signal,
      });
    }
    return answers;
  };
  const call: PlatformCall = {
    era: '2025',
    principal,
    kv: () => new TenantKv(host.env.DATA_KV, tenantNamespace(principal)),
    files: () => new TenantFiles(host.env.FILES, tenantNamespace(principal)),
    tenantDatabase: () => host.env.TENANT_DATABASE.get(host.env.TENANT_DATABASE.idFromName(tenantNamespace(principal))),
    handles: handleStore(host.env.DATA_KV, host.secret, principal),
    session: { id: host.sessionId(), sql: host.sql },
    signal: extra.signal,
    resumed: false,
    async progress(progress, total, message) {
      const progressToken = extra._meta?.progressToken;
      if (progressToken === undefined) return;
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress, total, message } });
    },
    async log(level, data) {
      if (levelIgnored(server, level, extra)) return;
      await extra.sendNotification({ method: 'notifications/message', params: { level, logger: principal.server, data } });
    },
    clientSupports: (capability) => server.server.getClientCapabilities()?.[capability] !== undefined,
    input,
    elicit: async (key, params) => (await input({ [key]: { method: 'elicitation/create', params } }))[key] as ElicitAnswer,
    sample: async (key, params) => (await input({ [key]: { method: 'sampling/createMessage', params } }))[key] as SampleAnswer,
    listRoots: async (key) => (await input({ [key]: { method: 'roots/list' } }))[key] as { roots: Array<{ uri: string; name?: string }> },
    listChanged(kind) {
      if (kind === 'tools') server.sendToolListChanged();
      else if (kind === 'prompts') server.sendPromptListChanged();
      else server.sendResourceListChanged();
    },
    closeStream: extra.closeSSEStream,
  };
  return call;
}

/**
 * Register a definition on the MCP SDK v1 server of a session object (the 2025 lane). Handlers
 * get a platform call built from the SDK's per-request `extra`; the choke point installed on the
 * server guards them like any other handler.
 */
export function registerLegacy(server: McpServer, definition: ServerDefinition, host: LegacyHost): void {
  const r: Registrations = definition.registrations();
  for (const { name, spec, handler } of r.tools) {
    const config = { title: spec.title, description: spec.description, inputSchema: spec.inputSchema, annotations: spec.annotations, _meta: spec._meta };
    if (spec.inputSchema === undefined)
      server.registerTool(name, config as never, ((extra: HandlerExtra) => handler({} as never, legacyCall(host, server, extra))) as never);
    else server.registerTool(name, config as never, ((args: never, extra: HandlerExtra) => handler(args, legacyCall(host, server, extra))) as never);
  }
  for (const { name, uri, spec, read } of r.resources) {
    server.registerResource(name, uri, spec, (url, extra) => read(url, legacyCall(host, server, extra)));
  }
  for (const { name, template, spec, read } of r.templates) {
    const complete = template.complete ? Object.fromEntries(Object.entries(template.complete).map(([k, fn]) => [k, (value: string) => fn(value)])) : undefined;
    server.registerResource(name, new ResourceTemplate(template.uriTemplate, { list: undefined, complete }), spec, (url, variables, extra) =>
      read(url, variables, legacyCall(host, server, extra)),
    );
  }
  for (const { name, spec, get } of r.prompts) {
    const argsSchema = spec.argsSchema;
    const config = { title: spec.title, description: spec.description, argsSchema };
    if (argsSchema === undefined) server.registerPrompt(name, config as never, ((extra: HandlerExtra) => get({}, legacyCall(host, server, extra))) as never);
    else
      server.registerPrompt(
        name,
        config as never,
        ((args: Record<string, string>, extra: HandlerExtra) => get(args, legacyCall(host, server, extra))) as never,
      );
  }
  // Subscriptions exist only in sessions; they are tracked per session object, nothing outlives it.
  if (definition.info.capabilities?.resources?.subscribe ?? !definition.info.capabilities) {
    const subscriptions = new Set<string>();
    server.server.setRequestHandler(SubscribeRequestSchema, (request) => {
      subscriptions.add(request.params.uri);
      return {};
    });
    server.server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
      subscriptions.delete(request.params.uri);
      return {};
    });
  }
}
