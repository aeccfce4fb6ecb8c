import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { TimeoutError, withTimeout } from '../../src/http/fetch-with-timeout';
import { call, createKey, mcpPost, openSession, ORIGIN, rpcMessages, seedTenant } from './platform-client';

async function keyAndSession() {
  const { id } = await seedTenant(['notes']);
  const { key } = await createKey(id, 'member');
  return { key, session: await openSession('notes', key) };
}

async function expectRpcError(res: Response, status: number, code: number, label: string) {
  expect(res.status, label).toBe(status);
  const body = (await res.json()) as any;
  expect(body.jsonrpc, label).toBe('2.0');
  expect(body.error.code, label).toBe(code);
}

describe('JSON-RPC validation in the gate (zod)', () => {
  it('refuses malformed messages with JSON-RPC errors before they reach the session', async () => {
    const { key, session } = await keyAndSession();
    const cases: Array<[string, unknown]> = [
      ['batch over 32 messages', Array.from({ length: 33 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }))],
      ['empty batch', []],
      ['object id', { jsonrpc: '2.0', id: { a: 1 }, method: 'ping' }],
      ['fractional id', { jsonrpc: '2.0', id: 1.5, method: 'ping' }],
      ['boolean id', { jsonrpc: '2.0', id: true, method: 'ping' }],
      ['huge string id', { jsonrpc: '2.0', id: 'x'.repeat(300), method: 'ping' }],
      ['method with spaces', { jsonrpc: '2.0', id: 1, method: 'tools call' }],
      ['method too long', { jsonrpc: '2.0', id: 1, method: 'a'.repeat(129) }],
      ['empty method', { jsonrpc: '2.0', id: 1, method: '' }],
      ['params as string', { jsonrpc: '2.0', id: 1, method: 'tools/list', params: 'all' }],
      ['params null', { jsonrpc: '2.0', id: 1, method: 'tools/list', params: null }],
      ['wrong version', { jsonrpc: '1.0', id: 1, method: 'ping' }],
      ['bare number', 42],
    ];
    for (const [label, message] of cases) await expectRpcError(await mcpPost('notes', key, message, session), 400, -32600, label);
    const invalidUtf8 = await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': session },
      body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    });
    await expectRpcError(invalidUtf8, 400, -32700, 'invalid UTF-8');
    // The session is unharmed.
    expect((await call('notes', key, session, 'tools/list')).message.result.tools.length).toBeGreaterThan(0);
  });

  it('accepts a small valid batch', async () => {
    const { key, session } = await keyAndSession();
    const res = await mcpPost(
      'notes',
      key,
      [
        { jsonrpc: '2.0', id: 'a', method: 'ping' },
        { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} },
      ],
      session,
    );
    expect(res.status).toBe(200);
    const ids = (await rpcMessages(res)).flat().map((m: any) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['a', 2]));
  });
});

describe('body size', () => {
  it('answers 413 to a chunked body over 1 MiB that declares no Content-Length', async () => {
    const { key, session } = await keyAndSession();
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 40) return controller.close(); // 2.5 MiB offered in total
        sent++;
        controller.enqueue(chunk);
      },
    });
    const res = await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': session },
      body,
      // @ts-expect-error workerd needs duplex for streamed request bodies
      duplex: 'half',
    });
    await expectRpcError(res, 413, -32600, 'chunked');
    console.log(`chunked upload: gate stopped after ${sent} of 40 chunks of 64 KiB`);
    expect(sent).toBeLessThan(40);
  });
});

describe('tool arguments are validated against the tool schema (MCP SDK, CfWorkerJsonSchemaValidator)', () => {
  it('refuses wrong argument types and values without running the tool', async () => {
    const { key, session } = await keyAndSession();
    for (const args of [{ title: 123 }, { title: '' }, {}, { title: 'x'.repeat(10_000) }, { title: 'ok', body: ['not', 'a', 'string'] }]) {
      const { message } = await call('notes', key, session, 'tools/call', { name: 'add_note', arguments: args });
      const failed = message.error !== undefined || message.result?.isError === true;
      expect(failed, JSON.stringify(args)).toBe(true);
      expect(JSON.stringify(message), JSON.stringify(args)).toMatch(/validation|invalid/i);
    }
    const listed = await call('notes', key, session, 'tools/call', { name: 'list_notes', arguments: {} });
    expect(listed.message.result.content[0].text).toBe('[]');
    const ok = await call('notes', key, session, 'tools/call', { name: 'add_note', arguments: { title: 'valid' } });
    expect(ok.message.result.isError).toBeFalsy();
  });
});

describe('outbound timeouts', () => {
  it("withTimeout rejects with TimeoutError and aborts the work's signal", async () => {
    let aborted = false;
    const never = (signal: AbortSignal) =>
      new Promise<never>(() => {
        signal.addEventListener('abort', () => (aborted = true));
      });
    await expect(withTimeout('stuck upstream', 50, never)).rejects.toBeInstanceOf(TimeoutError);
    expect(aborted).toBe(true);
    expect(await withTimeout('fast', 1000, async () => 'done')).toBe('done');
  });
});
