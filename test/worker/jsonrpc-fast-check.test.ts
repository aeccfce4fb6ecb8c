import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonRpcBodySchema, MAX_BATCH, MAX_ID_LENGTH, MAX_METHOD_LENGTH, validateJsonRpc } from '../../src/gate/jsonrpc-validation';

/**
 * The gate's body check takes plain requests and notifications without running its schema (a
 * hand-written check of the same bounds). It must never accept what the schema refuses, and every
 * refusal must stay the schema's own (same status, code and wording). Checked on the edges of each
 * bound and on thousands of generated near-messages, against the schema alone as the reference.
 */

/** What validateJsonRpc answers when only the schema decides (the code before the shortcut). */
function reference(value: unknown): 'accepted' | string {
  if (Array.isArray(value) && value.length > MAX_BATCH) return 'batch too large';
  const parsed = JsonRpcBodySchema.safeParse(value);
  if (!parsed.success) return 'invalid';
  const raw: unknown[] = Array.isArray(value) ? value : [value];
  const notification = raw.some(
    (m) => (m as { method?: unknown }).method === 'initialize' && !['string', 'number'].includes(typeof (m as { id?: unknown }).id),
  );
  return notification ? 'initialize notification' : 'accepted';
}

async function verdict(value: unknown): Promise<'accepted' | string> {
  const result = validateJsonRpc(value);
  if (!(result instanceof Response)) {
    expect(result).toHaveLength(Array.isArray(value) ? value.length : 1);
    return 'accepted';
  }
  expect(result.status).toBe(400);
  const message = ((await result.json()) as { error: { message: string } }).error.message;
  if (message.includes('at most')) return 'batch too large';
  if (message.includes('initialize must be a request')) return 'initialize notification';
  expect(message).toMatch(/^Invalid Request: not a valid JSON-RPC 2.0 message/);
  return 'invalid';
}

describe('the gate body check agrees with its schema', () => {
  it('on the edges of every bound', async () => {
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } };
    const cases: unknown[] = [
      call,
      { ...call, id: 'a'.repeat(MAX_ID_LENGTH) },
      { ...call, id: 'a'.repeat(MAX_ID_LENGTH + 1) },
      { ...call, id: Number.MAX_SAFE_INTEGER },
      { ...call, id: Number.MAX_SAFE_INTEGER + 1 },
      { ...call, id: -Number.MAX_SAFE_INTEGER },
      { ...call, id: 1.5 },
      { ...call, id: null },
      { ...call, id: true },
      { ...call, id: {} },
      { ...call, method: 'm'.repeat(MAX_METHOD_LENGTH) },
      { ...call, method: 'm'.repeat(MAX_METHOD_LENGTH + 1) },
      { ...call, method: '' },
      { ...call, method: '-leading' },
      { ...call, method: 'spa ce' },
      { ...call, method: 'notifications/é' },
      { ...call, method: 7 },
      { ...call, jsonrpc: '1.0' },
      { ...call, jsonrpc: 2 },
      { id: 1, method: 'tools/call' },
      { ...call, params: [] },
      { ...call, params: null },
      { ...call, params: 'x' },
      { ...call, params: 3 },
      { jsonrpc: '2.0', method: 'initialize' },
      { jsonrpc: '2.0', id: null, method: 'initialize' },
      { jsonrpc: '2.0', id: 0, method: 'initialize', params: {} },
      { jsonrpc: '2.0', id: 1, result: {} },
      { jsonrpc: '2.0', id: null, error: { code: -1, message: 'x' } },
      { ...call, extra: 'kept or stripped, never refused' },
      [],
      [call],
      [call, { ...call, id: null }],
      Array.from({ length: MAX_BATCH }, (_, i) => ({ ...call, id: i })),
      Array.from({ length: MAX_BATCH + 1 }, (_, i) => ({ ...call, id: i })),
      null,
      'a string',
      42,
      [[call]],
    ];
    for (const value of cases) expect(await verdict(value), JSON.stringify(value)).toBe(reference(value));
  });

  it('over generated messages and batches', async () => {
    const id = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.string({ maxLength: MAX_ID_LENGTH + 2 }),
      fc.integer(),
      fc.double(),
      fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, -0),
      fc.boolean(),
    );
    const method = fc.oneof(
      fc.constantFrom('tools/call', 'initialize', 'notifications/initialized', 'a', '$x', '', ' x', 'x y', 'm'.repeat(MAX_METHOD_LENGTH + 1)),
      fc.string({ maxLength: 20 }),
      fc.integer(),
    );
    const params = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.jsonValue({ maxDepth: 2 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 })),
    );
    const message = fc
      .record({ jsonrpc: fc.constantFrom('2.0', '2', 2), id, method, params, result: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] })
      // JSON has no undefined member: drop them as JSON.parse would never produce them.
      .map((m) => JSON.parse(JSON.stringify(m)) as unknown);
    const body = fc.oneof(message, fc.array(message, { maxLength: 3 }), fc.jsonValue({ maxDepth: 2 }));
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        expect(await verdict(value)).toBe(reference(value));
      }),
      { numRuns: 3000 },
    );
  });
});
