/**
 * Read a request body with a hard size limit, whether or not it declares a Content-Length:
 * a declared length over the limit is refused before a byte is read, and a chunked body is read
 * chunk by chunk and abandoned as soon as it passes the limit, so a client cannot make the Worker
 * buffer more than `max` bytes.
 *
 * An incoming `Request` that declares its length within the limit is read in one native call: the
 * runtime frames a request body by its Content-Length, so it cannot grow past the declared size
 * (checked again after reading). A `Response` (an upstream's answer, which `fetch` may have
 * decompressed past its declared length) is always read chunk by chunk.
 */
export async function readBounded(request: Request, max: number): Promise<Uint8Array | 'too_large'> {
  const declared = request.headers.get('content-length');
  if (declared !== null && !(Number(declared) <= max)) return 'too_large';
  if (!request.body) return new Uint8Array(0);
  if (declared !== null && request instanceof Request) {
    const whole = new Uint8Array(await request.arrayBuffer());
    return whole.byteLength > max ? 'too_large' : whole;
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      return 'too_large';
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** A copy of `request` whose body was read within `max` bytes, or 'too_large'. For handlers that read bodies themselves. */
export async function boundedRequest(request: Request, max: number): Promise<Request | 'too_large'> {
  if (request.method === 'GET' || request.method === 'HEAD') return request;
  const body = await readBounded(request, max);
  if (body === 'too_large') return body;
  const headers = new Headers(request.headers);
  headers.delete('content-length');
  return new Request(request.url, { method: request.method, headers, body, redirect: request.redirect });
}
