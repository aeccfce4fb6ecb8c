import { describe, expect, it } from 'vitest';
import { waitForEvents } from './audit-support';
import { modernCall } from './modern-client';
import { createKey, seedTenant } from './platform-client';

const ALL = { elicitation: {}, sampling: {}, roots: {} };

/**
 * A multi-round-trip `requestState` is single-use even when it is replayed concurrently: the claim
 * of its nonce is one atomic insert (a KV read-then-write let several concurrent copies through).
 */
describe('requestState replayed concurrently', () => {
  it('completes exactly once; every other copy is refused -32602 and audited denied', async () => {
    const { id } = await seedTenant(['everything']);
    const { key } = await createKey(id, 'member');
    const name = 'test_input_required_result_multi_round';
    const first = await modernCall('everything', key, 'tools/call', { name, arguments: {} }, { capabilities: ALL });
    const state = first.message.result.requestState as string;
    const answer = { step1: { action: 'accept', content: { name: 'Ada' } } };
    const copies = 8;
    const results = await Promise.all(
      Array.from({ length: copies }, () =>
        modernCall('everything', key, 'tools/call', { name, arguments: {}, inputResponses: answer, requestState: state }, { capabilities: ALL }),
      ),
    );
    const accepted = results.filter((r) => r.message.result);
    const refused = results.filter((r) => r.message.error);
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.message.result.inputRequests).toHaveProperty('step2');
    expect(refused).toHaveLength(copies - 1);
    for (const r of refused)
      expect(r.message.error).toMatchObject({ code: -32602, message: 'Invalid or expired requestState', data: { reason: 'invalid_request_state' } });
    const denied = await waitForEvents(id, `result=denied&action=tools/call`, (e) => e.length >= copies - 1);
    expect(denied.filter((e: any) => e.resource === name && e.details.era === '2026-07-28')).toHaveLength(copies - 1);
  });
});
