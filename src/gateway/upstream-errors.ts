/**
 * How the gateway says an upstream failed, in one place: the JSON-RPC codes it answers with, the
 * fault that counts against the breaker, and the error answer a waiting request receives. Shared
 * by the guarded fetch (`upstream-fetch.ts`), its stream guards (`sse-guard.ts`) and the sessions.
 */

/** JSON-RPC error codes the gateway uses for upstream faults (server-defined range). */
export const GatewayCode = {
  Unavailable: -32010,
  Oversize: -32011,
  Malformed: -32012,
  Drift: -32013,
  NotOffered: -32014,
} as const;

/** The upstream could not be reached or dropped the connection: retryable, and a breaker failure. */
export class UpstreamFault extends Error {
  override name = 'UpstreamFault';
}

/** The JSON-RPC error answer for request `id`, as the client will read it in place of the upstream's. */
export function errorMessage(id: string | number, code: number, message: string): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: { code, message } });
}

/** What an answer over `maxResponseBytes` is told (GatewayCode.Oversize). */
export function oversizeMessage(max: number): string {
  return `Upstream response exceeds the ${max}-byte limit`;
}
