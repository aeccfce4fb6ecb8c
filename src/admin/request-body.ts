import type { z } from 'zod';
import { readBounded } from '../http/bounded-body';
import { restError } from '../http/responses';

const MAX_ADMIN_BODY = 64 * 1024;

/** Read and validate a JSON body against `schema`; a Response when it is not acceptable. `max` is for the few larger bodies (module deploys). */
export async function readBody<T>(request: Request, schema: z.ZodType<T>, max = MAX_ADMIN_BODY): Promise<T | Response> {
  if (!request.headers.get('content-type')?.includes('application/json')) {
    return restError(415, 'unsupported_media_type', 'Content-Type must be application/json');
  }
  const bytes = await readBounded(request, max);
  if (bytes === 'too_large') return restError(413, 'payload_too_large', `Body limit is ${max} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return restError(400, 'invalid_json', 'Body is not valid JSON');
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const first = parsed.error.issues[0];
  const where = first?.path.length ? `${first.path.join('.')}: ` : '';
  return restError(400, 'invalid_request', `${where}${first?.message ?? 'invalid body'}`);
}
