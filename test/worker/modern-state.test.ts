import { describe, expect, it } from 'vitest';
import { waitForEvents } from './audit-support';
import { modernCall, textOf } from './modern-client';
import { createKey, obtainToken, seedTenant } from './platform-client';

const ALL = { elicitation: {}, sampling: {}, roots: {} };

async function openNotebook(token: string): Promise<string> {
  const opened = await modernCall('notes', token, 'tools/call', { name: 'notebook_open', arguments: {} });
  return JSON.parse(textOf(opened.message)).notebook;
}

describe('state for stateless (2026-07-28) callers', () => {
  it('keeps a notebook across calls behind a handle, and tells a handle-less caller how to get one', async () => {
    const { id } = await seedTenant(['notes']);
    const { key } = await createKey(id, 'member');
    const none = await modernCall('notes', key, 'tools/call', { name: 'add_note', arguments: { title: 'x' } });
    expect(none.message.result.isError).toBe(true);
    expect(textOf(none.message)).toContain('notebook_open');
    const notebook = await openNotebook(key);
    expect(notebook).toMatch(/^h_notebook_[0-9a-f]{32}\.[0-9a-f]{32}$/);
    for (const title of ['one', 'two']) await modernCall('notes', key, 'tools/call', { name: 'add_note', arguments: { title, notebook } });
    const listed = await modernCall('notes', key, 'tools/call', { name: 'list_notes', arguments: { notebook } });
    expect(JSON.parse(textOf(listed.message)).map((n: any) => n.title)).toEqual(['two', 'one']);
    await modernCall('notes', key, 'tools/call', { name: 'notebook_close', arguments: { notebook } });
    const gone = await modernCall('notes', key, 'tools/call', { name: 'list_notes', arguments: { notebook } });
    expect(gone.message.result.isError).toBe(true);
    expect(textOf(gone.message)).toContain('Unknown or expired');
  });

  it("refuses, and audits, another user's, another key's and another tenant's handle, and a forged one", async () => {
    const { id, accounts } = await seedTenant(['notes'], ['member', 'admin']);
    const owner = (await createKey(id, 'member')).key;
    const notebook = await openNotebook(owner);
    await modernCall('notes', owner, 'tools/call', { name: 'add_note', arguments: { title: 'private', notebook } });
    const otherKey = (await createKey(id, 'admin')).key;
    const otherUser = (await obtainToken(accounts.member!, 'notes')).access_token;
    const other = await seedTenant(['notes']);
    const otherTenant = (await createKey(other.id, 'admin')).key;
    const forged = notebook.replace(/\.[0-9a-f]{32}$/, `.${'0'.repeat(32)}`);
    for (const [token, handle] of [
      [otherKey, notebook],
      [otherUser, notebook],
      [otherTenant, notebook],
      [owner, forged],
    ] as const) {
      const res = await modernCall('notes', token, 'tools/call', { name: 'list_notes', arguments: { notebook: handle } });
      expect(res.message.error.code).toBe(-32003);
      expect(JSON.stringify(res.message)).not.toContain('private');
    }
    await waitForEvents(id, 'result=denied', (e) => e.length >= 3);
    await new Promise((r) => setTimeout(r, 1000));
    const denied = await waitForEvents(id, 'result=denied', () => true);
    // Exactly one event per refused request (the other user, the other key, the forged handle).
    expect(denied).toHaveLength(3);
    expect(denied.every((e: any) => e.action === 'tools/call' && e.resource === 'list_notes' && e.details.era === '2026-07-28')).toBe(true);
    expect(await waitForEvents(other.id, 'result=denied&action=tools/call', (e) => e.length >= 1)).toHaveLength(1);
    // The owner still reads it.
    const mine = await modernCall('notes', owner, 'tools/call', { name: 'list_notes', arguments: { notebook } });
    expect(textOf(mine.message)).toContain('private');
  });

  it('runs multi-round input with a signed requestState, and refuses a tampered, replayed or foreign one', async () => {
    const { id } = await seedTenant(['everything']);
    const { key } = await createKey(id, 'member');
    const name = 'test_input_required_result_multi_round';
    const r1 = await modernCall('everything', key, 'tools/call', { name, arguments: {} }, { capabilities: ALL });
    expect(r1.message.result).toMatchObject({ resultType: 'input_required', inputRequests: { step1: { method: 'elicitation/create' } } });
    const state1 = r1.message.result.requestState as string;
    const answer1 = { step1: { action: 'accept', content: { name: 'Ada' } } };
    const r2 = await modernCall('everything', key, 'tools/call', { name, arguments: {}, inputResponses: answer1, requestState: state1 }, { capabilities: ALL });
    expect(Object.keys(r2.message.result.inputRequests)).toEqual(['step2']);
    const r3 = await modernCall(
      'everything',
      key,
      'tools/call',
      { name, arguments: {}, inputResponses: { step2: { action: 'accept', content: { color: 'green' } } }, requestState: r2.message.result.requestState },
      { capabilities: ALL },
    );
    expect(textOf(r3.message)).toBe('Multi-round input complete: Ada likes green');

    const replayed = await modernCall(
      'everything',
      key,
      'tools/call',
      { name, arguments: {}, inputResponses: answer1, requestState: state1 },
      { capabilities: ALL },
    );
    expect(replayed.message.error).toMatchObject({ code: -32602, message: 'Invalid or expired requestState' });
    const fresh = (await modernCall('everything', key, 'tools/call', { name, arguments: {} }, { capabilities: ALL })).message.result.requestState as string;
    const [v, body, mac] = fresh.split('.') as [string, string, string];
    const tampered = `${v}.${body.slice(0, -2)}${body.endsWith('A') ? 'B' : 'A'}${body.slice(-1)}.${mac}`;
    const foreign = (await createKey(id, 'member')).key;
    for (const [token, state] of [
      [key, tampered],
      [key, `${fresh}x`],
      [foreign, fresh],
    ] as const) {
      const res = await modernCall(
        'everything',
        token,
        'tools/call',
        { name, arguments: {}, inputResponses: answer1, requestState: state },
        { capabilities: ALL },
      );
      expect(res.message.error?.code).toBe(-32602);
    }
    // Bound to the operation too: the owner's state on another tool is refused.
    const other = await modernCall(
      'everything',
      key,
      'tools/call',
      {
        name: 'test_input_required_result_request_state',
        arguments: {},
        inputResponses: { confirm: { action: 'accept', content: { ok: true } } },
        requestState: fresh,
      },
      { capabilities: ALL },
    );
    expect(other.message.error?.code).toBe(-32602);
    const denied = await waitForEvents(id, 'result=denied', (e) => e.length >= 5);
    await new Promise((r) => setTimeout(r, 1000));
    // Each refusal audited exactly once, as the request's own event.
    const all = await waitForEvents(id, 'result=denied', () => true);
    expect(all).toHaveLength(5);
    expect(denied.every((e: any) => e.action === 'tools/call' && e.details.era === '2026-07-28')).toBe(true);
  });
});
