import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { MAX_ENTRIES, MAX_ENTRY_BYTES, ResponseCache } from '../../src/gateway/response-cache';
import { cacheKey, cacheParams, mayCache, type CacheQuery, type CacheTicket } from '../../src/gateway/response-cache-model';
import type { ExposedTool } from '../../src/gateway/tool-view';

// The response cache's storage rules inside a real Durable Object's SQLite storage (the
// upstream's state object), with the clock passed in: TTL expiry, the caps, tickets outdated by an
// invalidation; and the key, which must differ for every change of who may see the answer.

let n = 0;
function withCache<T>(fn: (cache: ResponseCache) => Promise<T>): Promise<T> {
  const stub = env.UPSTREAM_STATE.get(env.UPSTREAM_STATE.idFromName(`cache-unit-${++n}/docs`));
  return runInDurableObject(stub, (_instance, state) => fn(new ResponseCache(state.storage)));
}
const ticket = (cache: ResponseCache, key: string, target = 'cache://doc', method: CacheTicket['method'] = 'resources/read'): CacheTicket => ({
  key,
  method,
  target,
  epoch: cache.epoch(),
});
const MIN = 60_000;

describe('response cache storage', () => {
  it('serves an entry until its TTL and evicts it after, counting hits, misses and evictions', async () => {
    await withCache(async (cache) => {
      const t0 = 1_000_000;
      expect(await cache.put(ticket(cache, 'k'), { contents: [{ text: 'v' }] }, 5 * MIN, t0)).toBe(true);
      expect(await cache.get('k', t0 + 5 * MIN - 1)).toEqual({ contents: [{ text: 'v' }] });
      expect(await cache.get('k', t0 + 5 * MIN)).toBeUndefined();
      expect(await cache.get('k', t0 + 5 * MIN + 1)).toBeUndefined();
      expect(await cache.view()).toMatchObject({ hits: 1, misses: 2, stores: 1, evictions: 1, entries: 0, bytes: 0 });
    });
  });

  it('keeps at most MAX_ENTRIES entries (oldest go first) and never an answer over MAX_ENTRY_BYTES', async () => {
    await withCache(async (cache) => {
      for (let i = 0; i < MAX_ENTRIES + 20; i++) await cache.put(ticket(cache, `k${i}`), { i }, 10 * MIN, 1_000 + i);
      const view = await cache.view();
      expect(view.entries).toBe(MAX_ENTRIES);
      expect(view.evictions).toBe(20);
      expect(await cache.get('k0', 2_000)).toBeUndefined();
      expect(await cache.get(`k${MAX_ENTRIES + 19}`, 2_000)).toEqual({ i: MAX_ENTRIES + 19 });
      expect(await cache.put(ticket(cache, 'big'), { text: 'x'.repeat(MAX_ENTRY_BYTES) }, 10 * MIN, 2_000)).toBe(false);
      expect((await cache.view()).tooLarge).toBe(1);
      expect(await cache.get('big', 2_000)).toBeUndefined();
    });
  });

  it('refuses an answer whose ticket predates an invalidation; invalidates by resource URI, by method, or all', async () => {
    await withCache(async (cache) => {
      const old = ticket(cache, 'a');
      await cache.invalidate('resources/read', 'cache://doc');
      expect(await cache.put(old, { stale: true }, 10 * MIN, 1_000)).toBe(false);

      await cache.put(ticket(cache, 'doc'), { v: 1 }, 10 * MIN, 1_000);
      await cache.put(ticket(cache, 'other', 'cache://other'), { v: 2 }, 10 * MIN, 1_000);
      await cache.put(ticket(cache, 'prompt', 'greet', 'prompts/get'), { v: 3 }, 10 * MIN, 1_000);
      await cache.put(ticket(cache, 'tool', 'lookup', 'tools/call'), { v: 4 }, 10 * MIN, 1_000);
      expect(await cache.invalidate('resources/read', 'cache://doc')).toBe(1);
      expect(await cache.get('other', 2_000)).toEqual({ v: 2 });
      expect(await cache.invalidate('resources/read')).toBe(1);
      expect(await cache.get('prompt', 2_000)).toEqual({ v: 3 });
      expect(await cache.invalidate()).toBe(2);
      expect(await cache.view()).toMatchObject({ entries: 0, invalidations: 4 });
    });
  });

  it('is deleted with the state object (upstream deleted or re-registered, tenant purged)', async () => {
    const stub = env.UPSTREAM_STATE.get(env.UPSTREAM_STATE.idFromName('cache-reset/docs'));
    await runInDurableObject(stub, async (_i, state) => {
      const cache = new ResponseCache(state.storage);
      await cache.put({ key: 'k', method: 'resources/read', target: 'u', epoch: cache.epoch() }, { v: 1 }, 10 * MIN);
    });
    await stub.reset();
    await runInDurableObject(stub, async (_i, state) => {
      expect(await new ResponseCache(state.storage).view()).toMatchObject({ entries: 0, hits: 0, stores: 0 });
    });
  });
});

describe('response cache key and eligibility', () => {
  const tool = (over: Partial<ExposedTool> = {}): ExposedTool => ({
    name: 'lookup',
    upstreamName: 'lookup',
    pin: 'approved',
    definition: { name: 'lookup', inputSchema: {} },
    annotations: { readOnlyHint: true, idempotentHint: true },
    ...over,
  });
  const scope = { tenant: 'acme', upstream: 'docs', version: 3 };
  const query: CacheQuery = { role: 'member', generation: 0, params: { name: 'lookup', arguments: { q: 'a', n: 1 } } };

  it('differs for every tenant, generation, upstream, version, role, tool view and argument; not for key order or _meta', async () => {
    const base = await cacheKey(scope, 'tools/call', query, tool());
    const variants = await Promise.all([
      cacheKey({ ...scope, tenant: 'globex' }, 'tools/call', query, tool()),
      cacheKey(scope, 'tools/call', { ...query, generation: 1 }, tool()),
      cacheKey({ ...scope, upstream: 'docs2' }, 'tools/call', query, tool()),
      cacheKey({ ...scope, version: 4 }, 'tools/call', query, tool()),
      cacheKey(scope, 'tools/call', { ...query, role: 'read-only' }, tool()),
      cacheKey(scope, 'tools/call', { ...query, role: 'admin' }, tool()),
      cacheKey(scope, 'tools/call', query, tool({ definition: { name: 'lookup', inputSchema: {}, _meta: { 'smcp/minRole': 'admin' } } })),
      cacheKey(scope, 'tools/call', query, tool({ upstreamName: 'lookup2' })),
      cacheKey(scope, 'tools/call', { ...query, params: { name: 'lookup', arguments: { q: 'b', n: 1 } } }, tool()),
      cacheKey(scope, 'resources/read', query),
    ]);
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
    const reordered = { ...query, params: cacheParams({ _meta: { progressToken: 7 }, arguments: { n: 1, q: 'a' }, name: 'lookup' }) };
    expect(await cacheKey(scope, 'tools/call', reordered, tool())).toBe(base);
  });

  it('caches only when enabled, only the read methods, and tools only when opted in and annotated read-only and idempotent', () => {
    const on = { enabled: true, ttlMs: 300_000, tools: ['lookup'] };
    expect(mayCache(on, 'resources/read')).toBe(true);
    expect(mayCache(on, 'prompts/get')).toBe(true);
    expect(mayCache(on, 'tools/call', tool())).toBe(true);
    expect(mayCache({ ...on, enabled: false }, 'resources/read')).toBe(false);
    expect(mayCache(on, 'resources/list')).toBe(false);
    expect(mayCache(on, 'completion/complete')).toBe(false);
    expect(mayCache(on, 'tools/call', tool({ upstreamName: 'other' }))).toBe(false);
    expect(mayCache(on, 'tools/call', tool({ annotations: { readOnlyHint: true } }))).toBe(false);
    expect(mayCache(on, 'tools/call', tool({ annotations: { idempotentHint: true } }))).toBe(false);
    expect(mayCache(on, 'tools/call')).toBe(false);
  });
});
