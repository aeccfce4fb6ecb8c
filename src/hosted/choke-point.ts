import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';

/** The per-request context the SDK hands to handlers; the principal header arrives in `requestInfo`. */
export type HandlerExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** A raw JSON-RPC request as the protocol layer dispatches it. */
export interface RawRequest {
  method: string;
  params?: Record<string, unknown>;
}

type Handler = (request: RawRequest, extra: HandlerExtra) => Promise<unknown>;

/** Runs around every request handler: may throw to deny, and may rewrite the result. */
export type Guard = (method: string, request: RawRequest, extra: HandlerExtra, next: () => Promise<unknown>) => Promise<unknown>;

const GUARDED = Symbol('smcp.guarded');

/**
 * A handler table that wraps every handler put into it, so handlers the SDK installs later (the
 * first registerTool, a resource template, completion) are guarded as well as those present now.
 */
class GuardedHandlers extends Map<string, Handler> {
  readonly [GUARDED] = true;
  private guard?: Guard;

  static create(guard: Guard, existing: Map<string, Handler>): GuardedHandlers {
    const table = new GuardedHandlers();
    table.guard = guard;
    for (const [method, handler] of existing) table.set(method, handler);
    return table;
  }

  override set(method: string, handler: Handler): this {
    const guard = this.guard;
    if (!guard) return super.set(method, handler);
    return super.set(method, (request, extra) => guard(method, request, extra, () => handler(request, extra)));
  }
}

interface ProtocolInternals {
  _requestHandlers?: Map<string, Handler>;
}

/**
 * Install `guard` in front of every request handler of `server`: tools, resources, prompts,
 * completion, logging and any handler a server author sets on the low-level server. This is the
 * platform's one choke point inside a session; it fails closed if the SDK's handler table moved.
 */
export function installChokePoint(server: McpServer, guard: Guard): void {
  const low = server.server as unknown as ProtocolInternals;
  if (!(low._requestHandlers instanceof Map)) {
    throw new Error('SMCP choke point: the MCP SDK request handler table was not found; refusing to serve unguarded');
  }
  low._requestHandlers = GuardedHandlers.create(guard, low._requestHandlers);
}

/** Whether `server` still routes every request through a guard (checked after the author's setup). */
export function isGuarded(server: McpServer): boolean {
  const table = (server.server as unknown as ProtocolInternals)._requestHandlers;
  return table instanceof GuardedHandlers && table[GUARDED];
}
