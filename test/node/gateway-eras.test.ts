import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client as V2Client, StreamableHTTPClientTransport as V2Transport } from '@modelcontextprotocol/client';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { adminCall, connectClient, startHarness, tenantWithKeys, text, type Harness } from '../support/gateway-harness.ts';
import { startModernUpstream, type ModernFixture } from '../support/modern-upstream-fixture.ts';
import { startUpstream, type UpstreamFixture } from '../support/upstream-fixture.ts';
import { startSwitchProxy } from '../support/switch-proxy.ts';
import { eventually } from '../support/eventually';

// Both protocol eras on both sides of the gateway, end to end: a real SDK v2 server speaking only
// MCP 2026-07-28 (`legacy: 'reject'`) and a real SDK v1 server speaking only the 2025 handshake,
// both on loopback, registered as one tenant's upstreams behind `wrangler dev`, called with the
// SDK v2 client pinned to 2026-07-28 and with the SDK v1 client (2025).

let h: Harness;
let keys: Record<'admin' | 'member' | 'read-only', string>;
let modern: ModernFixture;
let classic: UpstreamFixture;

const MODERN = '2026-07-28';

/** The SDK v2 client pinned to 2026-07-28, answering elicitation (multi-round-trip input) with `yes`. */
async function v2(name: string, key: string, yes = true): Promise<V2Client> {
  const client = new V2Client({ name: 'eras-e2e', version: '1.0.0' }, { versionNegotiation: { mode: { pin: MODERN } }, capabilities: { elicitation: {} } });
  client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { yes } }));
  await client.connect(new V2Transport(new URL(`${h.platform.url}/servers/${name}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } }));
  expect(client.getProtocolEra()).toBe('modern');
  return client;
}

/** One raw 2026-07-28 request through the platform (to replay and tamper with requestState as an attacker would). */
async function raw(name: string, key: string, method: string, params: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${h.platform.url}/servers/${name}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': method,
      ...(typeof params.name === 'string' ? { 'mcp-name': params.name } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method,
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': MODERN,
          'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
          'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
        },
      },
    }),
  });
  const body = await res.text();
  const data = body.startsWith('{')
    ? body
    : (body.split('\n').find((l) => l.startsWith('data: {"result') || l.startsWith('data: {"error') || l.includes('"id":1')) ?? '').replace(/^data: /, '');
  return JSON.parse(data);
}

async function auditEvents(query: string): Promise<Array<{ action: string; result: string; resource: string; details: Record<string, unknown> }>> {
  return (await adminCall(h.platform, 'GET', `/tenants/eras/audit?${query}&limit=500`)).body.events;
}

beforeAll(async () => {
  h = await startHarness('eras');
  keys = await tenantWithKeys(h.platform, 'eras');
  modern = await startModernUpstream();
  classic = await startUpstream();
  for (const [name, url] of [
    ['modern', modern.url],
    ['classic', classic.url],
  ] as const) {
    const created = await adminCall(h.platform, 'POST', '/tenants/eras/upstreams', {
      name,
      url,
      settings: { retries: 1, retryBaseMs: 10, healthIntervalMs: 30_000 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  }
}, 180_000);

afterAll(async () => {
  await modern?.close().catch(() => undefined);
  await classic?.close().catch(() => undefined);
  await h?.stop();
});

describe('gateway: 2026-07-28 on both sides', () => {
  it('a 2026-07-28 client reaches a 2026-07-28 upstream: tools, resources, templates, prompts, completion, spoken statelessly upstream', async () => {
    const client = await v2('modern', keys.member);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['add', 'big', 'confirm', 'echo', 'sample', 'steps', 'write']);
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'hi' } }))).toBe('echo: hi');
    expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(['fixture://readme']);
    expect((await client.readResource({ uri: 'fixture://readme' })).contents[0]).toMatchObject({ text: 'modern readme' });
    expect((await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual(['fixture://items/{id}']);
    expect((await client.readResource({ uri: 'fixture://items/beta' })).contents[0]).toMatchObject({ text: 'item beta' });
    // A URI that is not a plain ASCII header value travels in Mcp-Name as the revision's Base64 sentinel (the upstream checks it against the body).
    expect((await client.readResource({ uri: 'fixture://items/café' })).contents[0]).toMatchObject({ text: 'item caf%C3%A9' }); // the fixture reads the template variable percent-encoded;
    expect((await client.listPrompts()).prompts.map((p) => p.name).sort()).toEqual(['choose', 'greet']);
    const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
    expect(JSON.stringify(prompt.messages)).toContain('Hello, Ada!');
    const completion = await client.complete({ ref: { type: 'ref/resource', uri: 'fixture://items/{id}' }, argument: { name: 'id', value: 'a' } });
    expect(completion.completion.values).toEqual(['alpha']);
    await client.close();

    // The gateway spoke 2026-07-28 upstream: no initialize ever (the upstream would refuse it), every request with the headers.
    expect(modern.counts.initialize ?? 0).toBe(0);
    expect(modern.counts['server/discover']).toBeGreaterThanOrEqual(1);
    expect(modern.headers.every((x) => x.version === MODERN && typeof x.method === 'string')).toBe(true);
    expect(modern.headers.some((x) => x.method === 'tools/call' && x.name === 'echo')).toBe(true);
    expect(modern.headers.some((x) => x.method === 'resources/read' && x.name?.startsWith('=?base64?'))).toBe(true);
    // The admin view records the era the upstream speaks.
    const view = (await adminCall(h.platform, 'GET', '/tenants/eras/upstreams/modern')).body;
    expect(view.state.era).toBe(MODERN);
    expect(view.state.replicas[0].era).toBe(MODERN);
  });

  it('progress from a 2026-07-28 upstream reaches the client of either era', async () => {
    const modernClient = await v2('modern', keys.member);
    const seen: number[] = [];
    const res = await modernClient.callTool({ name: 'steps', arguments: { n: 3 } }, { onprogress: (p) => void seen.push(p.progress) });
    expect(text(res)).toBe('done after 3 steps');
    expect(seen).toEqual([1, 2, 3]);
    await modernClient.close();
    const legacy = await connectClient(h.platform, 'modern', keys.member);
    const legacySeen: number[] = [];
    const out = await legacy.callTool({ name: 'steps', arguments: { n: 2 } }, undefined, { onprogress: (p) => void legacySeen.push(p.progress) });
    expect(text(out)).toBe('done after 2 steps');
    expect(legacySeen).toEqual([1, 2]);
    await legacy.close();
  });

  it('multi-round-trip input: the upstream asks, the 2026-07-28 client answers, the retry goes back with the upstream state unwrapped', async () => {
    const client = await v2('modern', keys.member);
    expect(text(await client.callTool({ name: 'confirm', arguments: { what: 'deploy' } }))).toBe('deploy: confirmed');
    expect(modern.echoedStates).toContain('upstream-state:deploy'); // the upstream got its own state, not the platform's wrapper
    await client.close();
  });

  it('a wrapped requestState is bound to its caller and call, and single-use: another key, another call and a replay are refused and audited', async () => {
    const first = await raw('modern', keys.member, 'tools/call', { name: 'confirm', arguments: { what: 'pay' } });
    expect(first.result.resultType).toBe('input_required');
    const state = first.result.requestState as string;
    expect(state).not.toContain('upstream-state'); // the upstream's state travels signed inside the platform's, never bare
    expect(state.startsWith('s1.')).toBe(true);
    const answer = { ok: { action: 'accept', content: { yes: true } } };
    const echoedBefore = modern.echoedStates.length;

    const otherCaller = await raw('modern', keys.admin, 'tools/call', {
      name: 'confirm',
      arguments: { what: 'pay' },
      inputResponses: answer,
      requestState: state,
    });
    expect(otherCaller.error?.code).toBe(-32602);
    const otherCall = await raw('modern', keys.member, 'tools/call', {
      name: 'confirm',
      arguments: { what: 'refund' },
      inputResponses: answer,
      requestState: state,
    });
    expect(otherCall.error?.code).toBe(-32602);
    const tampered = await raw('modern', keys.member, 'tools/call', {
      name: 'confirm',
      arguments: { what: 'pay' },
      inputResponses: answer,
      requestState: `${state.slice(0, -2)}00`,
    });
    expect(tampered.error?.code).toBe(-32602);
    const ok = await raw('modern', keys.member, 'tools/call', { name: 'confirm', arguments: { what: 'pay' }, inputResponses: answer, requestState: state });
    expect(ok.result.content[0].text).toBe('pay: confirmed');
    const replay = await raw('modern', keys.member, 'tools/call', { name: 'confirm', arguments: { what: 'pay' }, inputResponses: answer, requestState: state });
    expect(replay.error?.code).toBe(-32602);
    // Exactly one retry reached the upstream (the legitimate one).
    expect(modern.echoedStates.length - echoedBefore).toBe(1);
    await eventually(async () => {
      const denied = (await auditEvents('server=modern&action=tools/call&result=denied')).filter((e) => e.resource === 'confirm');
      return denied.length === 4 && denied;
    }, 'four denied requestState presentations, one audit event each');
  });

  it('a 2025 client reaches a 2026-07-28 upstream: tools, resources, prompts, and the upstream input_required answered by the client on its session', async () => {
    const client = await connectClient(h.platform, 'modern', keys.member, { elicitation: {} });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { yes: true } }));
    expect(text(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }))).toBe('5');
    expect((await client.readResource({ uri: 'fixture://readme' })).contents[0]).toMatchObject({ text: 'modern readme' });
    expect(JSON.stringify((await client.getPrompt({ name: 'greet', arguments: { name: 'Bo' } })).messages)).toContain('Hello, Bo!');
    expect(text(await client.callTool({ name: 'confirm', arguments: { what: 'ship' } }))).toBe('ship: confirmed');
    await client.close();
    // Sampling asked by the modern upstream reaches a 2025 client that offered it; roots/list cannot be answered for it (-32014).
    const sampler = await connectClient(h.platform, 'modern', keys.member, { sampling: {} });
    sampler.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: 'assistant',
      content: { type: 'text', text: 'from the client' },
      model: 'test',
    }));
    expect(text(await sampler.callTool({ name: 'sample', arguments: { roots: false } }))).toBe('sampled: from the client');
    await expect(sampler.callTool({ name: 'sample', arguments: { roots: true } })).rejects.toThrow(/roots\/list/);
    await sampler.close();
    expect(modern.counts.initialize ?? 0).toBe(0);
  });

  it("an answer shaped by one 2025 client's input is never served from the response cache to another", async () => {
    const created = await adminCall(h.platform, 'POST', '/tenants/eras/upstreams', {
      name: 'cachedmodern',
      url: modern.url,
      settings: { responseCache: { enabled: true, ttlMs: 3_600_000, tools: [] } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const chooser = async (choice: string) => {
      const client = await connectClient(h.platform, 'cachedmodern', keys.member, { elicitation: {} });
      client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { choice } }));
      const got = JSON.stringify((await client.getPrompt({ name: 'choose', arguments: { topic: 'colour' } })).messages);
      await client.close();
      return got;
    };
    expect(await chooser('red')).toContain('You chose red');
    expect(await chooser('blue')).toContain('You chose blue'); // same prompt, same arguments, same role: a cache would have said red
    // A plain read of the same upstream is still cached (the guard is only for answers that needed input).
    const reader = await connectClient(h.platform, 'cachedmodern', keys.member);
    const reads = modern.counts['resources/read'] ?? 0;
    for (let i = 0; i < 3; i++) await reader.readResource({ uri: 'fixture://readme' });
    await reader.close();
    expect((modern.counts['resources/read'] ?? 0) - reads).toBe(1);
  });

  it('falls back to the 2025 handshake for a 2025-only upstream, for both client eras', async () => {
    const client = await v2('classic', keys.member);
    expect(text(await client.callTool({ name: 'echo', arguments: { text: 'old' } }))).toBe('echo: old');
    expect((await client.readResource({ uri: 'fixture://readme' })).contents[0]).toMatchObject({ text: 'fixture readme' });
    expect(JSON.stringify((await client.getPrompt({ name: 'greet', arguments: { name: 'Cy' } })).messages)).toContain('Hello, Cy!');
    await client.close();
    const legacy = await connectClient(h.platform, 'classic', keys.member);
    expect(text(await legacy.callTool({ name: 'add', arguments: { a: 1, b: 1 } }))).toBe('2');
    await legacy.close();
    expect(classic.counts.initialize).toBeGreaterThanOrEqual(2);
    const view = (await adminCall(h.platform, 'GET', '/tenants/eras/upstreams/classic')).body;
    expect(view.state.era).toBe('2025');
  });

  it('a 2025 upstream asking a 2026-07-28 client for sampling mid-call is refused clearly and audited (not feasible statelessly)', async () => {
    const client = await v2('classic', keys.member);
    const res = await client.callTool({ name: 'ask', arguments: {} });
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(/sampling failed: .*cannot be relayed to a 2026-07-28 client/);
    await client.close();
    await eventually(async () => {
      const refused = (await auditEvents('server=classic&action=gateway.sampling_refused')).filter((e) => e.details.era === MODERN);
      return refused.length === 1 && refused;
    }, 'one gateway.sampling_refused event with the era');
  });

  it('keeps the outbound size rule when speaking 2026-07-28: an oversize answer is -32011 for either client era', async () => {
    const created = await adminCall(h.platform, 'POST', '/tenants/eras/upstreams', { name: 'small', url: modern.url, settings: { maxResponseBytes: 4096 } });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const client = await v2('small', keys.member);
    await expect(client.callTool({ name: 'big', arguments: { bytes: 10_000 } })).rejects.toThrow(/exceeds the 4096-byte limit/);
    expect(text(await client.callTool({ name: 'big', arguments: { bytes: 100 } }))).toHaveLength(100);
    await client.close();
    const legacy = await connectClient(h.platform, 'small', keys.member);
    await expect(legacy.callTool({ name: 'big', arguments: { bytes: 10_000 } })).rejects.toThrow(/exceeds the 4096-byte limit/);
    await legacy.close();
  });

  it('re-probes a replica after a failure: an upstream upgraded to 2026-07-28 and downgraded again keeps serving idempotent calls', async () => {
    const proxy = await startSwitchProxy(classic.url);
    try {
      const created = await adminCall(h.platform, 'POST', '/tenants/eras/upstreams', {
        name: 'switch',
        url: proxy.url,
        settings: { retries: 2, retryBaseMs: 10 },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const era = async () => (await adminCall(h.platform, 'GET', '/tenants/eras/upstreams/switch')).body.state.era;
      const client = await v2('switch', keys.member);
      expect(text(await client.callTool({ name: 'add', arguments: { a: 1, b: 2 } }))).toBe('3');
      expect(await era()).toBe('2025');
      // Upgraded: the cached era (2025) fails its initialize; the fault forgets it, the retry re-probes and speaks 2026-07-28.
      proxy.switchTo(modern.url);
      const before = modern.counts['tools/call'] ?? 0;
      expect(text(await client.callTool({ name: 'add', arguments: { a: 2, b: 2 } }))).toBe('4');
      expect(modern.counts['tools/call']).toBe(before + 1);
      expect(await era()).toBe(MODERN);
      // Downgraded: the 2025 server asks for a session; that is a fault too, and the retry falls back to the handshake.
      proxy.switchTo(classic.url);
      expect(text(await client.callTool({ name: 'add', arguments: { a: 3, b: 2 } }))).toBe('5');
      expect(await era()).toBe('2025');
      await client.close();
    } finally {
      await proxy.close();
    }
  });

  it('a policy refusal in the 2026-07-28 lane is audited once, with the era, and never reaches the upstream', async () => {
    const before = modern.counts['tools/call'] ?? 0;
    const client = await v2('modern', keys['read-only']);
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['big', 'confirm', 'echo', 'sample', 'steps']); // filtered to what it may call
    const refused = await client.callTool({ name: 'write', arguments: { value: 'x' } }).then(
      (r) => r,
      (e: unknown) => e,
    );
    expect(JSON.stringify(refused, Object.getOwnPropertyNames(refused as object))).toMatch(/Permission denied/);
    await client.close();
    expect(modern.counts['tools/call'] ?? 0).toBe(before);
    const events = await eventually(async () => {
      const denied = (await auditEvents('server=modern&action=tools/call&result=denied')).filter((e) => e.resource === 'write');
      return denied.length > 0 && denied;
    }, 'the denial in the audit trail');
    await sleep(1500);
    expect((await auditEvents('server=modern&action=tools/call&result=denied')).filter((e) => e.resource === 'write')).toHaveLength(1);
    expect(events[0]!.details.era).toBe(MODERN);
  });

  it('health-checks a 2026-07-28 replica with server/discover (the revision has no ping), never with initialize', async () => {
    const replica = await eventually(
      async () => {
        const r = (await adminCall(h.platform, 'GET', '/tenants/eras/upstreams/modern')).body.state.replicas[0];
        return r?.health?.ok === true && r;
      },
      'the first health check of the modern upstream (about 30 s after registration)',
      320,
    );
    // A passing check proves it was not initialize + ping: this upstream refuses initialize (-32022) and has no ping.
    expect(replica.era).toBe(MODERN);
    expect(modern.counts.ping ?? 0).toBe(0);
  }, 90_000);
});
