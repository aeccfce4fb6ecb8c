import { isLegacyRequest } from '@modelcontextprotocol/server';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseLane, SESSION_VERSIONS, withoutModernClaim } from '../../src/modern/era';

/**
 * The era split's shortcut (`withoutModernClaim`, which skips the SDK's classification for plain
 * 2025-era traffic) must never call a request 2025-era that the SDK would call modern: the SDK's
 * `isLegacyRequest` stays the judge of everything that carries any claim. Checked on the cases the
 * SDK treats unexpectedly (a `_meta: null`, a bare string body, an unknown header value) and on
 * thousands of generated headers and bodies.
 */

const PV = 'io.modelcontextprotocol/protocolVersion';

function post(header: string | null, body: unknown): Request {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (header !== null) headers['mcp-protocol-version'] = header;
  return new Request('https://smcp.test/servers/notes/mcp', { method: 'POST', headers, body: JSON.stringify(body) });
}

const sdkSaysLegacy = (header: string | null, body: unknown) => isLegacyRequest(post(header, body), body);

describe('the era split shortcut agrees with the SDK', () => {
  it('takes plain 2025-era requests without asking the SDK, and leaves every claim to it', async () => {
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add_note', arguments: { title: 'x' } } };
    const plain: [string | null, unknown][] = [
      [null, call],
      ['2025-06-18', call],
      ['2025-11-25', [call, { jsonrpc: '2.0', method: 'notifications/initialized' }]],
      [null, { jsonrpc: '2.0', id: 1, result: {} }],
      [null, { jsonrpc: '2.0', method: 'notifications/initialized' }],
    ];
    for (const [header, body] of plain) {
      expect(withoutModernClaim(header, body), JSON.stringify(body)).toBe(true);
      expect(await sdkSaysLegacy(header, body)).toBe(true);
    }
    // Each of these is left to the SDK; several of them it calls modern.
    const claims: [string | null, unknown, boolean][] = [
      ['2026-07-28', call, false],
      ['garbage', call, false],
      [null, { ...call, params: { ...call.params, _meta: { [PV]: '2026-07-28' } } }, false],
      [null, { ...call, params: { ...call.params, _meta: { [PV]: '2025-11-25' } } }, false],
      [null, { ...call, params: { ...call.params, _meta: null } }, false],
      [null, [call, { ...call, id: 2, params: { _meta: { [PV]: '2026-07-28' } } }], false],
      [null, 'a string', false],
      [null, { ...call, params: { ...call.params, _meta: { progressToken: 1 } } }, true],
      [null, [], false],
    ];
    for (const [header, body, legacy] of claims) {
      expect(withoutModernClaim(header, body), JSON.stringify(body)).toBe(false);
      expect(await sdkSaysLegacy(header, body), JSON.stringify(body)).toBe(legacy);
    }
  });

  it('never calls 2025-era what the SDK calls modern, over generated headers and bodies', async () => {
    const header = fc.oneof(fc.constant(null), fc.constantFrom(...SESSION_VERSIONS, '2026-07-28', '2027-01-01', '', 'x'), fc.string({ maxLength: 12 }));
    const meta = fc.oneof(
      fc.constant(null),
      fc.dictionary(fc.constantFrom(PV, 'progressToken', 'io.modelcontextprotocol/clientInfo'), fc.jsonValue({ maxDepth: 1 })),
    );
    const params = fc.oneof(
      fc.constant(undefined),
      fc.jsonValue({ maxDepth: 2 }),
      fc.record({ name: fc.string({ maxLength: 8 }), _meta: meta }, { requiredKeys: ['name'] }),
    );
    const message = fc.oneof(
      fc.record({
        jsonrpc: fc.constant('2.0'),
        id: fc.integer(),
        method: fc.constantFrom('tools/call', 'tools/list', 'server/discover', 'initialize'),
        params,
      }),
      fc.record({ jsonrpc: fc.constant('2.0'), method: fc.constantFrom('notifications/initialized', 'notifications/cancelled'), params }),
      fc.record({ jsonrpc: fc.constant('2.0'), id: fc.integer(), result: fc.record({ _meta: meta }) }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    const body = fc.oneof(message, fc.array(message, { maxLength: 4 }));
    let shortcuts = 0;
    await fc.assert(
      fc.asyncProperty(header, body, async (h, b) => {
        if (!withoutModernClaim(h, b)) return;
        shortcuts++;
        expect(await sdkSaysLegacy(h, b)).toBe(true);
      }),
      { numRuns: 3000 },
    );
    // Not vacuous: a good share of the generated requests took the shortcut.
    expect(shortcuts).toBeGreaterThan(100);
  });

  it('hands the 2025 lane the body it read, decoded once, and the stateless lane the same', async () => {
    const body = { jsonrpc: '2.0', id: 7, method: 'tools/list' };
    const legacy = await chooseLane(post('2025-06-18', body), 1024);
    expect(legacy).toMatchObject({ era: '2025', parsed: body });
    expect(new TextDecoder().decode((legacy as { body: Uint8Array }).body)).toBe(JSON.stringify(body));
    const modern = await chooseLane(post('2026-07-28', { ...body, params: { _meta: { [PV]: '2026-07-28' } } }), 1024);
    expect(modern.era).toBe('2026-07-28');
    expect(await chooseLane(post(null, { pad: 'x'.repeat(2000) }), 1024)).toMatchObject({ era: 'refused' });
  });
});
