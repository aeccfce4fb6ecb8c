import { z } from 'zod';
import { rpcError, RpcCode } from '../http/responses';

/**
 * The gate's shape check of MCP POST bodies, before anything reaches a session's Durable Object:
 * JSON-RPC 2.0 messages (or a bounded batch) with string or integer ids, method names of a sane
 * pattern and length, and params that are an object or an array when present. Hosted servers
 * then only ever see well-formed messages; their tool arguments are validated against each tool's
 * input schema by the MCP SDK.
 */

/** Most messages one POST may carry (JSON-RPC batch). */
export const MAX_BATCH = 32;
export const MAX_ID_LENGTH = 256;
export const MAX_METHOD_LENGTH = 128;

const METHOD_PATTERN = /^[A-Za-z0-9_$][A-Za-z0-9_$./:-]*$/;
const Id = z.union([z.string().max(MAX_ID_LENGTH), z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER)]);
const Method = z.string().min(1).max(MAX_METHOD_LENGTH).regex(METHOD_PATTERN, 'method name has characters outside [A-Za-z0-9_$./:-]');
const Params = z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]);

const RequestOrNotification = z.object({ jsonrpc: z.literal('2.0'), id: Id.optional(), method: Method, params: Params.optional() });
const Result = z.object({ jsonrpc: z.literal('2.0'), id: Id, result: z.record(z.string(), z.unknown()) });
const ErrorReply = z.object({
  jsonrpc: z.literal('2.0'),
  id: Id.nullable(),
  error: z.object({ code: z.number().int(), message: z.string().max(10_000), data: z.unknown().optional() }),
});

export const JsonRpcMessageSchema = z.union([RequestOrNotification, Result, ErrorReply]);
export const JsonRpcBodySchema = z.union([JsonRpcMessageSchema, z.array(JsonRpcMessageSchema).min(1).max(MAX_BATCH)]);
export type JsonRpcMessage = z.infer<typeof JsonRpcMessageSchema>;

/** A body that is not UTF-8 JSON (what `decodeJsonBody` answers for it). */
export const NOT_JSON: unique symbol = Symbol('not JSON');

/** Strict UTF-8; one per isolate (a whole-buffer `decode` keeps no state between calls). */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** A body's JSON value (strict UTF-8), or NOT_JSON: the one decoding of MCP POST bodies, so the era split and the gate agree on it. */
export function decodeJsonBody(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(STRICT_UTF8.decode(bytes));
  } catch {
    return NOT_JSON;
  }
}

/** The validated messages of a body, or the JSON-RPC error response to send instead. */
export function parseJsonRpcBody(bytes: Uint8Array, allowBatch = true): JsonRpcMessage[] | Response {
  return validateJsonRpc(decodeJsonBody(bytes), allowBatch);
}

/** `parseJsonRpcBody` for a body already decoded with `decodeJsonBody` (the stateless lane's, decoded once by the era split). */
export function validateJsonRpc(value: unknown, allowBatch = true): JsonRpcMessage[] | Response {
  if (value === NOT_JSON) return rpcError(400, RpcCode.ParseError, 'Parse error: the body is not valid UTF-8 JSON');
  if (Array.isArray(value) && (!allowBatch || value.length > MAX_BATCH)) {
    return rpcError(
      400,
      RpcCode.InvalidRequest,
      allowBatch ? `Invalid Request: a batch may hold at most ${MAX_BATCH} messages` : 'Invalid Request: batches are not accepted here',
    );
  }
  // A plain request or notification (nearly every body) needs no schema run; anything else gets one.
  if (Array.isArray(value) ? value.length > 0 && value.every(isPlainRequest) : isPlainRequest(value))
    return initializeRefusal(value as JsonRpcMessage | JsonRpcMessage[]);
  const parsed = JsonRpcBodySchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    return rpcError(400, RpcCode.InvalidRequest, `Invalid Request: not a valid JSON-RPC 2.0 message${where}`);
  }
  const refusal = initializeRefusal(value);
  return refusal instanceof Response ? refusal : Array.isArray(parsed.data) ? parsed.data : [parsed.data];
}

/**
 * The framework creates a session object for anything shaped like `initialize` (it looks at the
 * raw message, extra members and all), but only a request with an id opens a counted session: an
 * initialize notification, or one with a null id, would be an object nobody counts or ends.
 */
function initializeRefusal<T>(value: T | T[]): T[] | Response {
  const raw: T[] = Array.isArray(value) ? value : [value];
  if (raw.some((m) => (m as { method?: unknown }).method === 'initialize' && !isId((m as { id?: unknown }).id))) {
    return rpcError(400, RpcCode.InvalidRequest, 'Invalid Request: initialize must be a request with a string or number id, not a notification');
  }
  return raw;
}

const isId = (id: unknown) => typeof id === 'string' || typeof id === 'number';

/**
 * Whether `m` is certainly a valid request or notification for `JsonRpcMessageSchema` (the same
 * bounds, checked by hand: by profile the schema run was a seventieth of the session lane's CPU).
 * False means "let the schema decide", never "invalid": every refusal and its wording stay the
 * schema's. Members beyond these are left as they are (the schema would strip them; the gate
 * reads only `method`, `id` and `params`, and forwards the body's bytes).
 */
function isPlainRequest(m: unknown): boolean {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return false;
  const { jsonrpc, id, method, params } = m as Record<string, unknown>;
  if (jsonrpc !== '2.0' || typeof method !== 'string' || method.length > MAX_METHOD_LENGTH || !METHOD_PATTERN.test(method)) return false;
  if (id !== undefined && !(typeof id === 'string' ? id.length <= MAX_ID_LENGTH : Number.isSafeInteger(id))) return false;
  return params === undefined || (typeof params === 'object' && params !== null);
}

/** Whether the messages open a session (carry an `initialize` request). */
export function opensSession(messages: JsonRpcMessage[]): boolean {
  return messages.some((m) => 'method' in m && m.method === 'initialize' && m.id !== undefined);
}
