import { isLegacyRequest } from '@modelcontextprotocol/server';
import { decodeJsonBody, NOT_JSON } from '../gate/jsonrpc-validation';
import { readBounded } from '../http/bounded-body';
import { rpcError, RpcCode } from '../http/responses';

/** Protocol revisions the stateless lane serves. */
export const MODERN_VERSIONS = ['2026-07-28'] as const;
/** Revisions served by the sessionful lane (negotiated through `initialize`, never 2026-07-28). */
export const SESSION_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;

/** How a request to `/servers/<name>/mcp` is served. */
export type Lane =
  /**
   * 2025 era: `initialize`, `Mcp-Session-Id`, GET/DELETE on a session. A JSON POST carries the read
   * body and its JSON (decoded once, as for the stateless lane) and `request`'s own body is consumed;
   * any other request is untouched and still readable.
   */
  | { era: '2025'; request: Request; body?: Uint8Array; parsed?: unknown }
  /** 2026-07-28: stateless, in the Worker. POSTs carry the read body and its JSON (`decodeJsonBody`'s, decoded once); `request`'s own body is consumed. */
  | { era: '2026-07-28'; request: Request; body: Uint8Array | null; parsed: unknown }
  /** Refused before either lane (body over the limit). */
  | { era: 'refused'; response: Response };

/**
 * The one place that decides a request's era, by what the 2026-07-28 revision says identifies it:
 * the per-request `_meta` envelope claim (`io.modelcontextprotocol/protocolVersion`) and the
 * `MCP-Protocol-Version` header naming a modern revision. The classification itself is the MCP
 * SDK's (`isLegacyRequest`, the code its own entry routes with), so the platform and the SDK never
 * disagree. Everything without a modern claim (initialize, session traffic, bodies that are not
 * JSON) stays on the 2025 lane exactly as before; a session-less GET or DELETE that names a modern
 * revision is modern (answered 405: that revision has no GET stream and no sessions).
 *
 * POST bodies are read once here (bounded), and the 2025 lane gets an equivalent readable request.
 */
export async function chooseLane(request: Request, maxBodyBytes: number): Promise<Lane> {
  const method = request.method.toUpperCase();
  if (method !== 'POST') {
    const modern = request.headers.get('mcp-session-id') === null && isModernVersion(request.headers.get('mcp-protocol-version'));
    return modern ? { era: '2026-07-28', request, body: null, parsed: undefined } : { era: '2025', request };
  }
  // Not JSON: the 2025 lane answers 415 exactly as before.
  if (!request.headers.get('content-type')?.toLowerCase().includes('application/json')) return { era: '2025', request };
  const body = await readBounded(request, maxBodyBytes);
  if (body === 'too_large')
    return { era: 'refused', response: rpcError(413, RpcCode.InvalidRequest, `Request body too large: limit is ${maxBodyBytes} bytes`) };
  const parsed = decodeJsonBody(body);
  if (parsed === NOT_JSON) return { era: '2025', request, body, parsed }; // the 2025 lane answers the parse error
  // With the parsed body given, the SDK reads only the method and headers (the body was consumed above).
  const legacy = withoutModernClaim(request.headers.get('mcp-protocol-version'), parsed) || (await isLegacyRequest(request, parsed));
  // Either lane reads only the request's method, URL and headers, and uses `body` and `parsed`.
  return legacy ? { era: '2025', request, body, parsed } : { era: '2026-07-28', request, body, parsed };
}

const SESSION_VERSION_SET: ReadonlySet<string> = new Set(SESSION_VERSIONS);

/**
 * A cheap, conservative "2025-era for certain" ahead of the SDK's classification, which costs
 * several percent of a session request's CPU: no `MCP-Protocol-Version` header, or one naming a
 * 2025-era revision, and a body of JSON-RPC requests, notifications and results none of which has a
 * `_meta` in its params or result. Anything else (any `_meta` at all, another header value, an error
 * response, an odd body) is left to the SDK, so the answer never differs from `isLegacyRequest`'s;
 * `era-split.test.ts` checks the two agree.
 */
export function withoutModernClaim(versionHeader: string | null, parsed: unknown): boolean {
  if (versionHeader !== null && !SESSION_VERSION_SET.has(versionHeader)) return false;
  const messages = Array.isArray(parsed) ? parsed : [parsed];
  if (messages.length === 0) return false;
  for (const m of messages) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return false;
    const { method, params, result } = m as { method?: unknown; params?: unknown; result?: unknown };
    // A request or notification whose params (if any) carry no `_meta`, or a result without one.
    const payload = typeof method === 'string' ? params : 'result' in m ? result : null;
    if (payload === undefined && typeof method === 'string') continue;
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload) || '_meta' in payload) return false;
  }
  return true;
}

/** Whether a protocol version names a revision at or after 2026-07-28 (what the modern lane answers). */
export function isModernVersion(version: string | null): boolean {
  if (!version) return false;
  const v = version.trim();
  return /^\d{4}-\d{2}-\d{2}$/.test(v) && v >= '2026-07-28';
}
