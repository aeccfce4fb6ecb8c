import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { McpError, ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { MODERN_VERSION, modernRequest, plainResult, type UpstreamEra } from './modern-wire';
import { connectUpstream, type UpstreamHooks, type UpstreamTarget } from './upstream-connection';
import { GatewayCode } from './upstream-errors';

/**
 * One handle on an upstream replica, whichever era it speaks, so the 2025 gateway session, the
 * stateless lane and the state object (tools/list, health checks) relay the same way: a 2025
 * replica gets the SDK client (initialize, session, server-to-client requests on the stream), a
 * 2026-07-28 replica gets stateless requests (`modern-wire.ts`), with no connection to keep.
 */
export interface UpstreamClient {
  readonly era: UpstreamEra;
  /** One request; the result as the upstream sent it (an `input_required` result only in `relay` mode). */
  request(method: string, params: Record<string, unknown> | undefined, options: RequestOptions): Promise<Record<string, unknown>>;
  /** Liveness: `ping` in 2025, `server/discover` in 2026-07-28 (which has no ping). */
  ping(options: RequestOptions): Promise<void>;
  close(): Promise<void>;
}

/**
 * How a 2026-07-28 upstream's `input_required` is handled: `relay` hands it back to a 2026-07-28
 * client (the stateless lane wraps its requestState), `resolve` answers each input request through
 * the hooks (a 2025 client's session asks its client on the stream of the call) and retries.
 */
export type InputMode = 'relay' | 'resolve';

export interface OpenOptions {
  input?: InputMode;
  /** The client capabilities declared upstream in relay mode (the downstream client's own). */
  capabilities?: Record<string, unknown>;
}

/** At most this many input rounds for one call in resolve mode (a loop guard, not a limit any real tool meets). */
export const MAX_INPUT_ROUNDS = 8;

/** Open a handle on the replica in `target` (its era decided by the state object's probe). */
export async function openUpstream(target: UpstreamTarget, hooks: UpstreamHooks = {}, open: OpenOptions = {}): Promise<UpstreamClient> {
  if (target.era === MODERN_VERSION) return modernClient(target, hooks, open);
  return legacyClient(await connectUpstream(target, hooks));
}

function legacyClient(client: Client): UpstreamClient {
  return {
    era: '2025',
    request: async (method, params, options) => (await client.request({ method, params } as never, ResultSchema, options)) as Record<string, unknown>,
    ping: async (options) => void (await client.ping(options)),
    close: () => client.close(),
  };
}

let nextToken = 1;

/** Results a client's answers to the upstream's input shaped (resolve mode): never cached for other callers. */
const answeredInput = new WeakSet<object>();

/** Whether `result` came after the gateway answered input requests with this client's answers (elicitation, sampling). */
export function usedClientInput(result: unknown): boolean {
  return typeof result === 'object' && result !== null && answeredInput.has(result);
}

function modernClient(target: UpstreamTarget, hooks: UpstreamHooks, open: OpenOptions): UpstreamClient {
  const mode = open.input ?? 'resolve';
  const capabilities =
    mode === 'relay' ? (open.capabilities ?? {}) : { ...(hooks.onElicitation ? { elicitation: {} } : {}), ...(hooks.onSampling ? { sampling: {} } : {}) };
  const send = (method: string, params: Record<string, unknown>, options: RequestOptions) => {
    let sent = params;
    const token = options.onprogress ? `smcp-${nextToken++}` : undefined;
    if (token !== undefined) sent = { ...params, _meta: { ...((params._meta as object) ?? {}), progressToken: token } };
    return modernRequest(target, method, sent, {
      signal: options.signal,
      capabilities,
      onNotification: (n) => {
        if (n.method === 'notifications/progress') {
          if (token !== undefined && n.params?.progressToken === token) options.onprogress?.(n.params as never);
        } else {
          if (n.method === 'notifications/tools/list_changed') hooks.onToolsChanged?.(); // the tools cache refetches, as on a 2025 session
          hooks.onNotification?.(n as never);
        }
      },
    });
  };
  return {
    era: MODERN_VERSION,
    async request(method, params = {}, options) {
      let next = params;
      for (let round = 0; ; round++) {
        const result = await send(method, next, options);
        if (result.resultType !== 'input_required' || mode === 'relay') {
          const plain = plainResult(result);
          if (round > 0) answeredInput.add(plain);
          return plain;
        }
        if (round >= MAX_INPUT_ROUNDS) throw new McpError(GatewayCode.NotOffered, `The upstream asked for input more than ${MAX_INPUT_ROUNDS} times`);
        const responses: Record<string, unknown> = {};
        for (const [key, request] of Object.entries((result.inputRequests ?? {}) as Record<string, { method?: string; params?: unknown }>)) {
          if (request.method === 'elicitation/create' && hooks.onElicitation) responses[key] = await hooks.onElicitation(request.params);
          else if (request.method === 'sampling/createMessage' && hooks.onSampling) responses[key] = await hooks.onSampling(request.params);
          else throw new McpError(GatewayCode.NotOffered, `The upstream asked for ${String(request.method)}, which the gateway cannot provide to this client`);
        }
        const { requestState: _drop, inputResponses: _old, ...rest } = params;
        next = { ...rest, inputResponses: responses, ...(typeof result.requestState === 'string' ? { requestState: result.requestState } : {}) };
      }
    },
    ping: async (options) => void (await send('server/discover', {}, options)),
    close: async () => undefined,
  };
}
