import { describe, expect, it } from 'vitest';
import { boundedStream } from '../../src/gateway/sse-guard';

/** An upstream answer stream that hands out the given chunks one `pull` at a time. */
function upstream(chunks: Uint8Array[]): Response {
  let next = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(chunks[next++]!);
      else controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
}

/** An SSE answer to request `id` carrying `text`, cut in two in the middle of its last character. */
function splitAnswer(id: number, text: string): Uint8Array[] {
  const bytes = new TextEncoder().encode(`event: message\ndata: {"jsonrpc":"2.0","id":${id},"result":{"text":"${text}"}}\n\n`);
  const cut = new TextEncoder().encode(`event: message\ndata: {"jsonrpc":"2.0","id":${id},"result":{"text":"${text.slice(0, -1)}`).length + 1;
  return [bytes.slice(0, cut), bytes.slice(cut)];
}

describe('gateway answer streams relayed at the same time', () => {
  it('keep a character split across chunks intact in each stream (one decoder per stream)', async () => {
    const a = boundedStream(upstream(splitAnswer(1, 'price €')), [1], 1 << 20).body!.getReader();
    const b = boundedStream(upstream(splitAnswer(2, 'grüße 😀')), [2], 1 << 20).body!.getReader();
    const out = { a: '', b: '' };
    const decode = (r: ReadableStreamReadResult<Uint8Array>) => (r.done ? '' : new TextDecoder().decode(r.value));
    // Interleaved: each stream's first half (ending mid-character) is read before the other's second half.
    for (let i = 0; i < 4; i++) {
      out.a += decode(await a.read());
      out.b += decode(await b.read());
    }
    expect(out.a).toContain('"result":{"text":"price €"}');
    expect(out.b).toContain('"result":{"text":"grüße 😀"}');
  });
});
