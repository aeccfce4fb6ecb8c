import { SELF } from 'cloudflare:test';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adminCall, call, createKey, openSession, OPERATOR, ORIGIN, seedTenant } from './platform-client';

/**
 * Property-based fuzzing of every route through the real Worker: thousands of malformed HTTP
 * requests and JSON-RPC messages. The property: no 5xx, every body completes (no hang), error
 * answers keep their surface's shape, and a normal call works afterwards.
 */

const RUNS_HTTP = 1500;
const RUNS_RPC = 1500;
const BODY_DEADLINE_MS = 15_000;

const ROUTES = [
  '/servers/notes/mcp',
  '/servers/everything/mcp',
  '/servers/notes/sse',
  '/servers/notes/sse/message',
  '/servers/nope/mcp',
  '/servers/notes',
  '/.well-known/oauth-protected-resource/servers/notes/mcp',
  '/.well-known/oauth-protected-resource/servers/everything/sse',
  '/.well-known/oauth-authorization-server',
  '/oauth/register',
  '/oauth/token',
  '/authorize',
  '/health',
  '/assets/smcp.css',
  '/admin/api',
  '/admin/api/tenants',
  '/admin/api/tenants/fz-admin-target',
  '/admin/api/tenants/fz-admin-target/users',
  '/admin/api/tenants/fz-admin-target/keys',
  '/admin/api/tenants/fz-admin-target/keys/key_x/rotate',
  '/admin/api/tenants/fz-admin-target/users/usr_x',
];

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
const text = fc.string({ maxLength: 200 });
const headerValue = fc.oneof(
  fc.string({ maxLength: 100 }).map((s) => s.replace(/[\r\n\0]/g, '')),
  fc.constantFrom('application/json', 'text/event-stream', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '*/*'),
);
const jsonValue = fc.jsonValue({ maxDepth: 4 });

/** Counters across the whole run, printed at the end. */
const tried = { http: 0, rpc: 0, byStatus: new Map<number, number>() };

async function consume(res: Response, label: string): Promise<string> {
  tried.byStatus.set(res.status, (tried.byStatus.get(res.status) ?? 0) + 1);
  if (res.headers.get('content-type')?.includes('text/event-stream') && res.status === 200) {
    // Standalone SSE streams stay open by design: read the first event, then hang up.
    const reader = res.body!.getReader();
    const first = await Promise.race([reader.read(), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), BODY_DEADLINE_MS))]);
    await reader.cancel().catch(() => undefined);
    if (first === 'timeout' && !/\/sse$|GET/.test(label)) throw new Error(`SSE answer without any event within ${BODY_DEADLINE_MS} ms: ${label}`);
    return '';
  }
  const body = await Promise.race([
    res.text(),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`body did not complete: ${label}`)), BODY_DEADLINE_MS)),
  ]);
  return body;
}

function checkShape(path: string, res: Response, body: string, label: string): void {
  expect(res.status, label).toBeLessThan(500);
  if (label.startsWith('HEAD ') || res.status < 400 || res.status === 401 || (res.status === 405 && path.startsWith('/.well-known'))) return;
  if (/^\/servers\/([^/]+)\/(mcp|sse|sse\/message)$/.test(path)) {
    expect(res.headers.get('content-type') ?? '', label).toContain('json');
    const parsed = JSON.parse(body) as { jsonrpc?: string; error?: { code?: unknown } };
    expect(parsed.jsonrpc, label).toBe('2.0');
    expect(parsed.error?.code, label).toBeTypeOf('number');
  } else if (!path.startsWith('/oauth/') && !path.startsWith('/.well-known/') && path !== '/authorize') {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    expect(parsed.error?.code, label).toBeTypeOf('string');
  }
}

describe('fuzzing every route', () => {
  it('survives thousands of malformed HTTP requests and JSON-RPC messages with no 5xx or hang, then serves a normal call', async () => {
    const { id } = await seedTenant(['notes', 'everything']);
    expect(
      (await adminCall('PATCH', `/tenants/${id}`, { limits: { requestsPerMinute: 1_000_000, maxSessions: 10_000, maxSessionsPerUser: 10_000 } })).status,
    ).toBe(200);
    // The per-key limit (600/min, a Rate Limiting binding) is real: spread the run over several keys.
    const keys = await Promise.all(Array.from({ length: 8 }, () => createKey(id, 'member').then((k) => k.key)));
    const sessions = await Promise.all(keys.map((k) => openSession('notes', k)));
    let n = 0;
    const credential = () => keys[n++ % keys.length]!;

    const request = fc.record({
      method: fc.constantFrom(...METHODS),
      path: fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom(...ROUTES) },
        { weight: 1, arbitrary: fc.webPath() },
        { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...ROUTES), text).map(([r, t]) => `${r}${encodeURIComponent(t)}`) },
      ),
      query: fc.option(fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 }), { maxKeys: 4 }), { nil: undefined }),
      auth: fc.constantFrom('none', 'key', 'operator', 'garbage', 'forged-key'),
      session: fc.constantFrom('none', 'valid', 'garbage', 'forged'),
      contentType: fc.option(headerValue, { nil: undefined }),
      accept: fc.option(headerValue, { nil: undefined }),
      origin: fc.option(fc.constantFrom(ORIGIN, 'http://evil.test', 'null', 'http://inspector.test:6274'), { nil: undefined }),
      protocol: fc.option(fc.constantFrom('2025-06-18', '2025-03-26', '1999-01-01', 'garbage'), { nil: undefined }),
      body: fc.oneof(
        fc.constant(undefined),
        text,
        jsonValue.map((v) => JSON.stringify(v)),
        fc.uint8Array({ maxLength: 300 }),
      ),
    });

    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        tried.http++;
        const headers = new Headers();
        const i = n % keys.length;
        if (r.auth === 'key') headers.set('authorization', `Bearer ${credential()}`);
        if (r.auth === 'operator') headers.set('authorization', `Bearer ${OPERATOR}`);
        if (r.auth === 'garbage') headers.set('authorization', 'Bearer %%% not a token');
        if (r.auth === 'forged-key') headers.set('authorization', `Bearer smcp_${id}_${'A'.repeat(43)}`);
        if (r.session === 'valid') headers.set('mcp-session-id', sessions[i]!);
        if (r.session === 'garbage') headers.set('mcp-session-id', '../../etc/passwd');
        if (r.session === 'forged') headers.set('mcp-session-id', `${'a'.repeat(64)}.${'b'.repeat(32)}`);
        if (r.contentType !== undefined) headers.set('content-type', r.contentType);
        if (r.accept !== undefined) headers.set('accept', r.accept);
        if (r.origin !== undefined) headers.set('origin', r.origin);
        if (r.protocol !== undefined) headers.set('mcp-protocol-version', r.protocol);
        const url = new URL(`${ORIGIN}${r.path.startsWith('/') ? '' : '/'}${r.path}`);
        for (const [k, v] of Object.entries(r.query ?? {})) url.searchParams.set(k, v);
        const withBody = r.method !== 'GET' && r.method !== 'HEAD';
        const label = `${r.method} ${url.pathname}${url.search} auth=${r.auth} session=${r.session}`;
        const res = await SELF.fetch(url.toString(), { method: r.method, headers, body: withBody ? r.body : undefined, redirect: 'manual' });
        checkShape(url.pathname, res, await consume(res, label), label);
      }),
      { numRuns: RUNS_HTTP, seed: 20261121, endOnFailure: true },
    );

    const KNOWN_METHODS = [
      'initialize',
      'ping',
      'tools/list',
      'tools/call',
      'resources/list',
      'resources/read',
      'resources/templates/list',
      'prompts/list',
      'prompts/get',
      'completion/complete',
      'logging/setLevel',
      'notifications/initialized',
      'notifications/cancelled',
      'resources/subscribe',
    ];
    const message = fc.record(
      {
        jsonrpc: fc.oneof({ weight: 8, arbitrary: fc.constant('2.0') }, { weight: 1, arbitrary: jsonValue }),
        id: fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.double(), fc.constant(null), jsonValue),
        method: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...KNOWN_METHODS) }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }) }),
        params: fc.oneof(
          jsonValue,
          fc.record({
            name: fc.constantFrom('add_note', 'list_notes', 'search_notes', 'delete_note', 'nope'),
            arguments: fc.oneof(jsonValue, fc.dictionary(fc.constantFrom('title', 'body', 'id', 'query'), jsonValue)),
          }),
          fc.record({ uri: fc.oneof(fc.webUrl(), fc.string({ maxLength: 60 })) }),
        ),
      },
      { requiredKeys: [] },
    );
    const rpcBody = fc.oneof({ weight: 4, arbitrary: message }, { weight: 1, arbitrary: fc.array(message, { minLength: 0, maxLength: 40 }) });

    await fc.assert(
      fc.asyncProperty(rpcBody, async (m) => {
        tried.rpc++;
        const i = n++ % keys.length;
        const label = `rpc ${JSON.stringify(m).slice(0, 200)}`;
        const res = await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${keys[i]}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-protocol-version': '2025-06-18',
            'mcp-session-id': sessions[i]!,
          },
          body: JSON.stringify(m),
        });
        checkShape('/servers/notes/mcp', res, await consume(res, label), label);
      }),
      { numRuns: RUNS_RPC, seed: 42, endOnFailure: true },
    );

    const statuses = [...tried.byStatus]
      .sort(([a], [b]) => a - b)
      .map(([s, c]) => `${s}×${c}`)
      .join(' ');
    console.log(`fuzz: ${tried.http} HTTP requests + ${tried.rpc} JSON-RPC bodies = ${tried.http + tried.rpc} inputs tried; statuses ${statuses}`);
    expect(tried.http + tried.rpc).toBeGreaterThanOrEqual(RUNS_HTTP + RUNS_RPC);
    expect([...tried.byStatus.keys()].every((s) => s < 500)).toBe(true);

    // A normal call still works, in a brand-new session and in an old one.
    const fresh = (await createKey(id, 'member')).key;
    const session = await openSession('notes', fresh);
    const added = await call('notes', fresh, session, 'tools/call', { name: 'add_note', arguments: { title: 'after the storm' } });
    expect(added.message.result.isError).toBeFalsy();
    expect(JSON.parse((await call('notes', fresh, session, 'tools/call', { name: 'list_notes', arguments: {} })).message.result.content[0].text)[0].title).toBe(
      'after the storm',
    );
  }, 600_000);
});
