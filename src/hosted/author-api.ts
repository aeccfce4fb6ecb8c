import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import type { CallToolResult, GetPromptResult, ReadResourceResult, ServerCapabilities, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { HandleStore } from './handles';
import type { Principal } from './principal';
import type { TenantFiles } from '../storage/tenant-files';
import type { TenantKv } from '../storage/tenant-kv';

/**
 * The server author's API: one definition per hosted server, served by both protocol eras.
 *
 * A definition is data plus handlers. The platform registers it onto the MCP SDK v1 server inside
 * the session Durable Object (2025 lane, `legacy-adapter.ts`) and onto an SDK v2 server built per
 * request in the Worker (2026-07-28 lane, `src/modern/modern-server.ts`). Handlers never see an SDK
 * object: they get a {@link PlatformCall}, which is how the same code elicits input in a session
 * (a real server-to-client request) and statelessly (a multi-round-trip `input_required` result).
 */

/** What a hosted server says about itself (initialize and server/discover). */
export interface HostedServerInfo {
  name: string;
  version: string;
  title?: string;
  instructions?: string;
  capabilities?: ServerCapabilities;
}

/** The era a request is served in: the sessionful 2025 lane or the stateless 2026-07-28 lane. */
export type Era = '2025' | '2026-07-28';

/** A request the server embeds in an `input_required` result (or sends directly in a session). */
export type InputRequest =
  | { method: 'elicitation/create'; params: { message: string; requestedSchema: Record<string, unknown>; [k: string]: unknown } }
  | { method: 'sampling/createMessage'; params: { messages: unknown[]; maxTokens: number; [k: string]: unknown } }
  | { method: 'roots/list'; params?: Record<string, unknown> };

/** The answer to an elicitation, as the client gives it. */
export interface ElicitAnswer {
  action: 'accept' | 'decline' | 'cancel';
  content?: Record<string, unknown>;
}

/** The answer to a sampling request. */
export interface SampleAnswer {
  role: string;
  content: { type: string; text?: string; [k: string]: unknown };
  model?: string;
  [k: string]: unknown;
}

type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | 'alert' | 'emergency';

/** A tagged-template SQL function over the session's own SQLite (2025 lane only). */
export type SessionSql = <T = Record<string, string | number | boolean | null>>(
  strings: TemplateStringsArray,
  ...values: (string | number | boolean | null)[]
) => T[];

/**
 * Everything a handler may use, bound to the caller of this one request. Tenant storage is reached
 * only through here, so no argument can name another tenant.
 */
export interface PlatformCall {
  readonly era: Era;
  readonly principal: Principal;
  /** KV confined to the caller's tenant. */
  kv(): TenantKv;
  /** R2 confined to the caller's tenant. */
  files(): TenantFiles;
  /** The caller's tenant database (one Durable Object per tenant, addressed by the principal). */
  tenantDatabase(): DurableObjectStub<import('../storage/tenant-database').TenantDatabase>;
  /** State handles bound to (tenant, principal, server): how stateless clients keep state across calls. */
  readonly handles: HandleStore;
  /** The session's SQLite: present only in the 2025 lane (one Durable Object per session). */
  readonly session?: { readonly id: string; readonly sql: SessionSql };
  readonly signal: AbortSignal;
  /** Progress for the request's progressToken (no-op when the client sent none). */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** A log message to the client, honouring its log level. */
  log(level: LogLevel, data: unknown): Promise<void>;
  /** Whether the client declared a capability (initialize in 2025, the request's `_meta` in 2026-07-28). */
  clientSupports(capability: 'elicitation' | 'sampling' | 'roots'): boolean;
  /**
   * Input from the client, keyed so a stateless retry can answer it. In a session this sends the
   * request and waits; statelessly the call ends with `input_required` and the handler runs again
   * when the client retries with the answers (earlier answers are carried in the signed
   * `requestState`), so write handlers to be re-runnable up to their inputs.
   */
  input(requests: Record<string, InputRequest>): Promise<Record<string, unknown>>;
  elicit(key: string, params: { message: string; requestedSchema: Record<string, unknown> }): Promise<ElicitAnswer>;
  sample(key: string, params: { messages: unknown[]; maxTokens: number; [k: string]: unknown }): Promise<SampleAnswer>;
  listRoots(key: string): Promise<{ roots: Array<{ uri: string; name?: string }> }>;
  /** Tell clients that listen (session or `subscriptions/listen` stream) a list changed. */
  listChanged(kind: 'tools' | 'prompts' | 'resources'): void;
  /** True when this request carried a verified `requestState` (a stateless retry). */
  readonly resumed: boolean;
  /** 2025 lane only, for resumability tests: closes the request's SSE stream. */
  closeStream?: () => void;
}

type Shape = z.ZodRawShape;
type InputSchema = Shape | z.ZodObject<Shape>;
/** The parsed arguments of a tool or prompt whose schema is `S`. */
export type ArgsOf<S> = S extends z.ZodObject<Shape> ? z.output<S> : S extends Shape ? z.output<z.ZodObject<S>> : Record<string, never>;

export interface ToolSpec<S extends InputSchema | undefined> {
  title?: string;
  description?: string;
  inputSchema?: S;
  annotations?: ToolAnnotations;
  /** `smcp/minRole`, `smcp/sensitive` and other platform keys (see tool-policy.ts, request-audit.ts). */
  _meta?: Record<string, unknown>;
}

export type ToolHandler<S extends InputSchema | undefined> = (args: ArgsOf<S>, call: PlatformCall) => CallToolResult | Promise<CallToolResult>;

export interface ResourceSpec {
  title?: string;
  description?: string;
  mimeType?: string;
}

/** A resource template: the URI template and optional completion of its variables. */
export interface TemplateSpec {
  uriTemplate: string;
  complete?: Record<string, (value: string) => string[]>;
}

export interface PromptSpec<S extends Shape | undefined> {
  title?: string;
  description?: string;
  argsSchema?: S;
  /** Completion of argument values (`completion/complete`). */
  complete?: Partial<Record<S extends Shape ? keyof S & string : never, (value: string) => string[]>>;
}

/** The registrations a definition's `setup` produced: pure data, built once per isolate. */
export interface Registrations {
  tools: Array<{ name: string; spec: ToolSpec<InputSchema | undefined>; handler: ToolHandler<InputSchema | undefined> }>;
  resources: Array<{ name: string; uri: string; spec: ResourceSpec; read: (uri: URL, call: PlatformCall) => ReadResourceResult | Promise<ReadResourceResult> }>;
  templates: Array<{
    name: string;
    template: TemplateSpec;
    spec: ResourceSpec;
    read: (uri: URL, variables: Record<string, string | string[]>, call: PlatformCall) => ReadResourceResult | Promise<ReadResourceResult>;
  }>;
  prompts: Array<{
    name: string;
    spec: PromptSpec<Shape | undefined>;
    get: (args: Record<string, string>, call: PlatformCall) => GetPromptResult | Promise<GetPromptResult>;
  }>;
}

/** What `setup` registers on: tools, resources, resource templates and prompts. */
export interface AuthorServer {
  tool<S extends InputSchema | undefined = undefined>(name: string, spec: ToolSpec<S>, handler: ToolHandler<S>): void;
  resource(name: string, uri: string, spec: ResourceSpec, read: (uri: URL, call: PlatformCall) => ReadResourceResult | Promise<ReadResourceResult>): void;
  resourceTemplate(
    name: string,
    template: TemplateSpec,
    spec: ResourceSpec,
    read: (uri: URL, variables: Record<string, string | string[]>, call: PlatformCall) => ReadResourceResult | Promise<ReadResourceResult>,
  ): void;
  prompt<S extends Shape | undefined = undefined>(
    name: string,
    spec: PromptSpec<S>,
    get: (args: ArgsOf<S>, call: PlatformCall) => GetPromptResult | Promise<GetPromptResult>,
  ): void;
}

/** One hosted server, as its author writes it. */
export interface ServerDefinition {
  readonly info: HostedServerInfo;
  /** Registrations, computed once per isolate on first use. */
  registrations(): Registrations;
}

/**
 * Define a hosted server once for both eras. `setup` runs once per isolate (not per request or
 * session), so it must only register: anything per caller happens in handlers through `call`.
 */
export function defineServer(info: HostedServerInfo, setup: (server: AuthorServer) => void): ServerDefinition {
  let cached: Registrations | undefined;
  return {
    info,
    registrations() {
      if (cached) return cached;
      const r: Registrations = { tools: [], resources: [], templates: [], prompts: [] };
      const taken = new Set<string>();
      const unique = (kind: string, name: string) => {
        if (taken.has(`${kind}:${name}`)) throw new Error(`${info.name}: ${kind} "${name}" registered twice`);
        taken.add(`${kind}:${name}`);
      };
      setup({
        tool(name, spec, handler) {
          unique('tool', name);
          // A raw zod shape becomes its object schema once per isolate, not in every request's
          // registration; any Standard Schema (zod object, fromJsonSchema) is kept as it is.
          const inputSchema = spec.inputSchema && !('~standard' in spec.inputSchema) ? z.object(spec.inputSchema as Shape) : spec.inputSchema;
          r.tools.push({
            name,
            spec: { ...spec, inputSchema } as ToolSpec<InputSchema | undefined>,
            handler: handler as unknown as ToolHandler<InputSchema | undefined>,
          });
        },
        resource(name, uri, spec, read) {
          unique('resource', name);
          r.resources.push({ name, uri, spec, read });
        },
        resourceTemplate(name, template, spec, read) {
          unique('resource', name);
          r.templates.push({ name, template, spec, read });
        },
        prompt(name, spec, get) {
          unique('prompt', name);
          const argsSchema = withCompletion(spec.argsSchema, spec.complete as Record<string, ((value: string) => string[]) | undefined> | undefined);
          r.prompts.push({
            name,
            spec: { ...spec, argsSchema } as PromptSpec<Shape | undefined>,
            get: get as (args: Record<string, string>, call: PlatformCall) => GetPromptResult,
          });
        },
      });
      cached = r;
      return r;
    },
  };
}

/**
 * Mark prompt arguments completable, once per isolate: both MCP SDKs read the same global
 * `mcp.completable` marker, which can be set only once per schema object (hence the clone).
 */
function withCompletion<S extends Shape | undefined>(shape: S, complete: Record<string, ((value: string) => string[]) | undefined> | undefined): S {
  if (!shape || !complete) return shape;
  const out: Record<string, unknown> = { ...shape };
  for (const [name, fn] of Object.entries(complete)) {
    const field = out[name] as { clone?: () => unknown } | undefined;
    if (fn && field) out[name] = completable((field.clone?.() ?? field) as never, fn as never);
  }
  return out as S;
}

/** The default capabilities of a hosted server that does not state its own. */
export const DEFAULT_CAPABILITIES: ServerCapabilities = {
  tools: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  prompts: { listChanged: true },
  logging: {},
  completions: {},
};
