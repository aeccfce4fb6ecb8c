import { inputRequired, ProtocolError, type ServerContext } from '@modelcontextprotocol/server';
import { RpcCode } from '../http/responses';
import { openCallerState, type ModernServerScope } from '../modern/modern-server';
import { mintRequestState, type Operation } from '../modern/request-state';
import { plainResult } from './modern-wire';

/**
 * Multi-round-trip input between a 2026-07-28 client and a 2026-07-28 upstream, through the
 * platform. The upstream's `input_required` goes to the client with the upstream's `requestState`
 * wrapped in the platform's own (src/modern/request-state.ts: signed, bound to this tenant,
 * principal, server, method, name and arguments, short-lived, single-use); the client's retry
 * carries it back, the platform opens it and sends the upstream its own state with the client's
 * `inputResponses`. So a state minted for one caller or call is refused (and audited as a denial)
 * when another presents it, and the same state never reaches the upstream twice: the platform
 * cannot be made to replay another caller's upstream state.
 */

/** The methods whose results may be `input_required` (the revision's table). */
const MRTR_METHODS = new Set(['tools/call', 'prompts/get', 'resources/read']);
/** Where the upstream's state rides inside the platform's. */
const UPSTREAM_STATE = 'smcp/upstream-state';

export interface InputRelay {
  /** `inputResponses` and the unwrapped upstream `requestState` to send upstream (empty on a first round). */
  upstreamFields: Record<string, unknown>;
  /** The client capabilities the downstream client declared, declared upstream in its name. */
  capabilities: Record<string, unknown>;
  /** The upstream's result as the client gets it: plain, or `input_required` with the wrapped state. */
  wrap(result: Record<string, unknown>): Promise<unknown>;
}

/** Open the round's state (refusing a forged, replayed or foreign one) and prepare the answer's wrapping. */
export async function relayInput(
  scope: ModernServerScope,
  method: string,
  name: string,
  params: Record<string, unknown>,
  ctx: ServerContext,
): Promise<InputRelay> {
  const envelope = (ctx.mcpReq.envelope ?? {}) as Record<string, unknown>;
  const capabilities = (envelope['io.modelcontextprotocol/clientCapabilities'] ?? {}) as Record<string, unknown>;
  const op: Operation = { method, name, args: method === 'resources/read' ? {} : (params.arguments ?? {}) };
  const upstreamFields: Record<string, unknown> = {};
  if (MRTR_METHODS.has(method)) {
    const raw = ctx.mcpReq.requestState();
    if (typeof raw === 'string') {
      const upstream = (await openCallerState(scope, op, raw))[UPSTREAM_STATE];
      if (typeof upstream === 'string') upstreamFields.requestState = upstream;
    }
    if (ctx.mcpReq.inputResponses) upstreamFields.inputResponses = ctx.mcpReq.inputResponses;
  }
  return {
    upstreamFields,
    capabilities,
    async wrap(result) {
      if (result.resultType !== 'input_required') return plainResult(result);
      const { requestState, inputRequests } = result;
      if (!MRTR_METHODS.has(method))
        throw new ProtocolError(RpcCode.Internal, `Upstream answered ${method} with input_required, which the revision does not allow`);
      const state = await mintRequestState(scope.secret, scope.principal, op, { [UPSTREAM_STATE]: typeof requestState === 'string' ? requestState : null });
      return inputRequired({ inputRequests: (inputRequests ?? undefined) as never, requestState: state });
    },
  };
}
