import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createKey, ORIGIN, restartObject, seedTenant } from './platform-client';

// The session object serves Streamable HTTP itself (src/hosted/session-http.ts): what the
// framework's WebSocket bridge did must still hold, through the whole gate: server-to-client
// requests on the POST stream, the GET stream (the newest one wins), and resumption of a stream
// with Last-Event-ID (SEP-1699: the server closes a POST stream mid-call, the client resumes it).

type Message = { id?: number | string; method?: string; result?: any; error?: any; params?: any };

function headers(key: string, session?: string, version = '2025-11-25', extra: Record<string, string> = {}): Record<string, string> {
  return {
    authorization: `Bearer ${key}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': version,
    ...(session ? { 'mcp-session-id': session } : {}),
    ...extra,
  };
}

const post = (key: string, body: unknown, session?: string) =>
  SELF.fetch(`${ORIGIN}/servers/everything/mcp`, { method: 'POST', headers: headers(key, session), body: JSON.stringify(body) });

/** Reads SSE events off a stream as they arrive. */
class EventReader {
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  constructor(res: Response) {
    this.reader = res.body!.getReader();
  }

  /** The next event (`id` and parsed data; data null for a priming event), or null when the stream ended. */
  async next(timeoutMs = 5000): Promise<{ id?: string; data: Message | null } | null> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const lines = block.split('\n');
        if (lines.every((l) => l.startsWith(':'))) continue; // keep-alive comment
        const id = lines.find((l) => l.startsWith('id: '))?.slice(4);
        const data = lines
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trim())
          .join('');
        return { id, data: data ? (JSON.parse(data) as Message) : null };
      }
      const chunk = await Promise.race([this.reader.read(), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs))]);
      if (chunk === 'timeout') throw new Error('no event within the timeout');
      if (chunk.done) return null;
      this.buffer += this.decoder.decode(chunk.value, { stream: true });
    }
  }

  /** The next message from the server that carries a method (a server-to-client request or a notification); fails if the stream ends first. */
  async message(): Promise<Message> {
    for (;;) {
      const event = await this.next();
      if (!event) throw new Error('stream ended before the server sent a request or notification');
      if (event.data?.method) return event.data;
    }
  }

  /** Events until one answers `id` (inclusive). */
  async until(id: number): Promise<Array<{ id?: string; data: Message | null }>> {
    const seen: Array<{ id?: string; data: Message | null }> = [];
    for (;;) {
      const event = await this.next();
      if (!event) throw new Error(`stream ended before the answer to ${id}: ${JSON.stringify(seen)}`);
      seen.push(event);
      if (event.data?.id === id && (event.data.result !== undefined || event.data.error !== undefined)) return seen;
    }
  }

  cancel(): Promise<void> {
    return this.reader.cancel();
  }
}

async function open(key: string, capabilities: Record<string, unknown> = {}): Promise<string> {
  const init = await post(key, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: 'stream-test', version: '1' } },
  });
  expect(init.status).toBe(200);
  const session = init.headers.get('mcp-session-id')!;
  await new EventReader(init).until(0);
  const ack = await post(key, { jsonrpc: '2.0', method: 'notifications/initialized' }, session);
  expect(ack.status).toBe(202);
  return session;
}

describe('Streamable HTTP served by the session object', () => {
  it('carries a server-to-client request (elicitation) on the POST stream and finishes the call when the client answers', async () => {
    const { id } = await seedTenant(['everything']);
    const { key } = await createKey(id, 'member');
    const session = await open(key, { elicitation: {} });
    const call = await post(key, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'test_streaming_elicitation', arguments: {} } }, session);
    expect(call.status).toBe(200);
    expect(call.headers.get('content-type')).toContain('text/event-stream');
    const stream = new EventReader(call);
    const request = await stream.message();
    expect(request.method).toBe('elicitation/create');
    const answered = await post(key, { jsonrpc: '2.0', id: request.id, result: { action: 'accept', content: { name: 'Ada' } } }, session);
    expect(answered.status).toBe(202);
    const rest = await stream.until(7);
    const result = rest.at(-1)!.data!.result;
    expect(JSON.stringify(result)).toContain('Ada');
  });

  it('resumes a POST stream the server closed mid-call with Last-Event-ID, and delivers the result there', async () => {
    const { id } = await seedTenant(['everything']);
    const { key } = await createKey(id, 'member');
    const session = await open(key);
    const call = await post(key, { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'test_reconnection', arguments: {} } }, session);
    expect(call.status).toBe(200);
    const first = new EventReader(call);
    const events: Array<{ id?: string; data: Message | null }> = [];
    for (let e = await first.next(); e; e = await first.next()) events.push(e);
    // The stream ended without the answer; its priming event gave the client a cursor.
    expect(events.some((e) => e.data?.id === 8)).toBe(false);
    const cursor = [...events].reverse().find((e) => e.id)?.id;
    expect(cursor).toBeTruthy();

    const resumed = await SELF.fetch(`${ORIGIN}/servers/everything/mcp`, {
      method: 'GET',
      headers: headers(key, session, '2025-11-25', { 'last-event-id': cursor! }),
    });
    expect(resumed.status).toBe(200);
    const replay = await new EventReader(resumed).until(8);
    expect(JSON.stringify(replay.at(-1)!.data!.result)).toContain('Reconnection test completed successfully');
  });

  it('sends server-initiated notifications on the GET stream, and a new GET stream supersedes the old one', async () => {
    const { id } = await seedTenant(['everything']);
    const { key } = await createKey(id, 'member');
    const session = await open(key);
    const get = () => SELF.fetch(`${ORIGIN}/servers/everything/mcp`, { method: 'GET', headers: headers(key, session) });
    const firstGet = await get();
    expect(firstGet.status).toBe(200);
    const first = new EventReader(firstGet);
    const secondGet = await get();
    expect(secondGet.status).toBe(200);
    const second = new EventReader(secondGet);
    // The older stream is closed (after its priming event, if any).
    for (let e = await first.next(); e; e = await first.next()) expect(e.data).toBeNull();

    const call = await post(key, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'test_trigger_tool_change', arguments: {} } }, session);
    await new EventReader(call).until(9);
    const notified = await second.message();
    expect(notified.method).toBe('notifications/tools/list_changed');
    await second.cancel();
  });

  it('serves a session again after its object restarted (evicted from memory): the stored initialize restores it, client capabilities included', async () => {
    const { id } = await seedTenant(['everything']);
    const { key } = await createKey(id, 'member');
    const session = await open(key, { elicitation: {} });
    const stub = env.EVERYTHING_SERVER.get(env.EVERYTHING_SERVER.idFromName(`streamable-http:${session.split('.')[0]}`));
    // Reset the object: its in-memory transport and server are gone, its storage stays.
    await restartObject(stub);

    const listed = await post(key, { jsonrpc: '2.0', id: 10, method: 'tools/list', params: {} }, session);
    expect(listed.status).toBe(200);
    const tools = (await new EventReader(listed).until(10)).at(-1)!.data!.result.tools as Array<{ name: string }>;
    expect(tools.map((t) => t.name)).toContain('test_simple_text');
    // The elicitation capability the client declared at initialize is known to the restarted server.
    const call = await post(key, { jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'test_streaming_elicitation', arguments: {} } }, session);
    const stream = new EventReader(call);
    const request = await stream.message();
    expect(request.method).toBe('elicitation/create');
    await post(key, { jsonrpc: '2.0', id: request.id, result: { action: 'accept', content: { name: 'Grace' } } }, session);
    expect(JSON.stringify((await stream.until(11)).at(-1)!.data!.result)).toContain('Grace');
  });
});
