import type { ServerContext } from '@modelcontextprotocol/server';
import type { ElicitAnswer, InputRequest, PlatformCall, SampleAnswer } from '../hosted/author-api';
import { handleStore } from '../hosted/handles';
import { tenantNamespace, type Principal } from '../hosted/principal';
import { TenantFiles } from '../storage/tenant-files';
import { TenantKv } from '../storage/tenant-kv';

/** What the stateless lane knows about the request beyond the SDK context. */
export interface ModernScope {
  env: Env;
  secret: string;
  principal: Principal;
  /** Publishes a list change to this isolate's `subscriptions/listen` streams. */
  listChanged(kind: 'tools' | 'prompts' | 'resources'): void;
}

/** Is `value` a well-formed answer to `request` (the client's answers are untrusted)? */
function answers(request: InputRequest, value: unknown): boolean {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  switch (request.method) {
    case 'elicitation/create':
      return (
        (v.action === 'accept' || v.action === 'decline' || v.action === 'cancel') &&
        (v.content === undefined || (typeof v.content === 'object' && v.content !== null && !Array.isArray(v.content)))
      );
    case 'sampling/createMessage':
      return typeof v.role === 'string' && typeof v.content === 'object' && v.content !== null;
    case 'roots/list':
      return Array.isArray(v.roots);
  }
}

/** A stateless platform call and what it asked the client for. */
export interface ModernCall {
  call: PlatformCall;
  /** Input requests the handler is still waiting for (the call then ends `input_required`). */
  pending(): Record<string, InputRequest> | undefined;
  /** The answers the handler consumed, to carry in the next round's `requestState`. */
  consumed(): Record<string, unknown>;
}

/** Thrown inside a handler to stop it at its first unanswered input; the lane turns it into `input_required`. */
export class InputNeeded extends Error {
  constructor() {
    super('The client must answer input requests first (multi-round-trip); the platform answers input_required');
  }
}

/**
 * The platform call of one stateless request. Input is answered from the request's
 * `inputResponses` and the answers carried in its verified `requestState`; the first unanswered
 * input stops the handler (InputNeeded) and is recorded, so even a handler that catches the
 * signal ends the call `input_required`.
 */
export function modernCall(scope: ModernScope, ctx: ServerContext, carried: Record<string, unknown>, resumed: boolean): ModernCall {
  const { env, principal } = scope;
  const given = ctx.mcpReq.inputResponses ?? {};
  const used: Record<string, unknown> = {};
  let waiting: Record<string, InputRequest> | undefined;
  const declared = (ctx.mcpReq.envelope?.['io.modelcontextprotocol/clientCapabilities' as keyof typeof ctx.mcpReq.envelope] ?? {}) as Record<string, unknown>;

  const input = async (requests: Record<string, InputRequest>): Promise<Record<string, unknown>> => {
    const out: Record<string, unknown> = {};
    const missing: Record<string, InputRequest> = {};
    for (const [key, request] of Object.entries(requests)) {
      const value = Object.hasOwn(given, key) ? given[key] : Object.hasOwn(carried, key) ? carried[key] : undefined;
      if (answers(request, value)) out[key] = used[key] = value;
      else missing[key] = request.method === 'roots/list' ? { method: 'roots/list', params: request.params ?? {} } : request;
    }
    if (Object.keys(missing).length > 0) {
      waiting = { ...waiting, ...missing };
      throw new InputNeeded();
    }
    return out;
  };

  const progressToken = ctx.mcpReq._meta?.progressToken;
  const call: PlatformCall = {
    era: '2026-07-28',
    principal,
    kv: () => new TenantKv(env.DATA_KV, tenantNamespace(principal)),
    files: () => new TenantFiles(env.FILES, tenantNamespace(principal)),
    tenantDatabase: () => env.TENANT_DATABASE.get(env.TENANT_DATABASE.idFromName(tenantNamespace(principal))),
    handles: handleStore(env.DATA_KV, scope.secret, principal),
    signal: ctx.mcpReq.signal,
    resumed,
    async progress(progress, total, message) {
      if (progressToken === undefined) return;
      await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, progress, total, message } });
    },
    async log(level, data) {
      await ctx.mcpReq.log(level, data, principal.server);
    },
    clientSupports: (capability) => declared[capability] !== undefined && declared[capability] !== null,
    input,
    elicit: async (key, params) => (await input({ [key]: { method: 'elicitation/create', params } }))[key] as ElicitAnswer,
    sample: async (key, params) => (await input({ [key]: { method: 'sampling/createMessage', params } }))[key] as SampleAnswer,
    listRoots: async (key) => (await input({ [key]: { method: 'roots/list', params: {} } }))[key] as { roots: Array<{ uri: string; name?: string }> },
    listChanged: (kind) => scope.listChanged(kind),
  };
  return { call, pending: () => waiting, consumed: () => used };
}
