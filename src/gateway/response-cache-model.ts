import { z } from 'zod';
import { toHex } from '../crypto/secrets';
import type { Role } from '../tenancy/model';
import { canonicalJson } from './tool-pins';
import type { ExposedTool } from './tool-view';

/**
 * What the gateway's response cache may hold, and the key that keeps one caller's cached answer
 * from ever reaching a caller who may not see it. Pure: the storage is `response-cache.ts`, the
 * decision to look up and store is the upstream's state object (`admit`, `storeResponse`).
 */

export const MIN_RESPONSE_TTL_MS = 5 * 60_000;
export const MAX_RESPONSE_TTL_MS = 60 * 60_000;

/**
 * `settings.responseCache` of an upstream (default off). Replaced as a whole on PATCH, which is why
 * `enabled` must always be stated. `tools` are upstream tool names the tenant opts in; each is
 * cached only while the upstream annotates it `readOnlyHint` and `idempotentHint`.
 */
export const ResponseCacheSettingsSchema = z.strictObject({
  enabled: z.boolean(),
  ttlMs: z
    .number()
    .int()
    .min(MIN_RESPONSE_TTL_MS, `responseCache.ttlMs must be at least ${MIN_RESPONSE_TTL_MS} ms (5 minutes)`)
    .max(MAX_RESPONSE_TTL_MS, `responseCache.ttlMs must be at most ${MAX_RESPONSE_TTL_MS} ms (1 hour)`)
    .default(MIN_RESPONSE_TTL_MS),
  tools: z.array(z.string().min(1).max(128)).max(100).default([]),
});
export type ResponseCacheSettings = z.infer<typeof ResponseCacheSettingsSchema>;

export const DEFAULT_RESPONSE_CACHE: ResponseCacheSettings = { enabled: false, ttlMs: MIN_RESPONSE_TTL_MS, tools: [] };

/** The methods whose answers may be cached: reads that do not change anything. */
export const CACHEABLE_METHODS = ['resources/read', 'prompts/get', 'tools/call'] as const;
export type CacheableMethod = (typeof CACHEABLE_METHODS)[number];

/** What a session sends with `admit` to ask the cache: who asks (what decides what they may see) and the request. */
export interface CacheQuery {
  role: Role;
  /** The tenant's incarnation: a tenant deleted and created again never sees the old one's answers. */
  generation: number;
  /** The request's params without `_meta` (progress tokens and the like are per request). */
  params: Record<string, unknown>;
}

/** Handed back by `admit` on a miss: where to store the answer, and the invalidation epoch it was asked in. */
export interface CacheTicket {
  key: string;
  method: CacheableMethod;
  /** The resource URI, prompt name or upstream tool name (what notifications invalidate by). */
  target: string;
  epoch: string;
}

export function isCacheableMethod(op: string): op is CacheableMethod {
  return (CACHEABLE_METHODS as readonly string[]).includes(op);
}

/** Whether this request may be cached under the upstream's settings (tools: opted in and annotated read-only and idempotent). */
export function mayCache(settings: ResponseCacheSettings | undefined, op: string, tool?: ExposedTool): op is CacheableMethod {
  if (!settings?.enabled || !isCacheableMethod(op)) return false;
  if (op !== 'tools/call') return true;
  return !!tool && tool.annotations?.readOnlyHint === true && tool.annotations?.idempotentHint === true && settings.tools.includes(tool.upstreamName);
}

/** What notifications invalidate: a resource URI or a prompt/tool name. */
export function cacheTarget(op: CacheableMethod, params: Record<string, unknown>, tool?: ExposedTool): string {
  if (op === 'tools/call') return tool?.upstreamName ?? '';
  return String((op === 'resources/read' ? params.uri : params.name) ?? '');
}

/** Params as the key sees them: `_meta` dropped (per-request metadata, never part of the answer's identity). */
export function cacheParams(params: Record<string, unknown> | undefined): Record<string, unknown> {
  const { _meta: _drop, ...rest } = params ?? {};
  return rest;
}

/**
 * The cache key: SHA-256 of the canonical JSON of everything that decides the answer or who may see
 * it: tenant and its generation, upstream and its configuration version (URL, credentials and
 * tool policy all bump it), the caller's role, the method, and for a tool its exposed definition
 * (name after renames, the tenant's minimum role, the pinned definition) and the canonical
 * arguments. Two requests share an entry only when all of it is equal.
 */
export async function cacheKey(
  scope: { tenant: string; upstream: string; version: number },
  op: CacheableMethod,
  query: CacheQuery,
  tool?: ExposedTool,
): Promise<string> {
  const material = canonicalJson({
    v: 1,
    tenant: scope.tenant,
    generation: query.generation,
    upstream: scope.upstream,
    version: scope.version,
    role: query.role,
    method: op,
    tool: tool ? { upstreamName: tool.upstreamName, definition: tool.definition } : null,
    params: query.params,
  });
  return toHex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(material)));
}

/** The cache query of a caller's request: what decides what the principal may see, and the params without `_meta`. */
export function cacheQuery(principal: { role: Role; generation?: number }, params: Record<string, unknown> | undefined): CacheQuery {
  return { role: principal.role, generation: principal.generation ?? 0, params: cacheParams(params) };
}

/** Upstream notifications that invalidate cached answers (tools/list_changed also arrives through `onToolsChanged`). */
export function invalidates(method: string): boolean {
  return method === 'notifications/resources/updated' || method === 'notifications/resources/list_changed' || method === 'notifications/prompts/list_changed';
}

/** A result the cache may keep: a plain object, never an error result (`isError`) nor an `input_required` round. */
export function storable(result: unknown): boolean {
  if (!result || typeof result !== 'object') return false;
  const r = result as { isError?: unknown; resultType?: unknown };
  return r.isError !== true && (r.resultType === undefined || r.resultType === 'complete');
}
