import { env, listDurableObjectIds, runInDurableObject, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ORIGIN, call, mcpPost, obtainToken, openSession, registerClient, seedTenant } from './platform-client';

function notesText(message: any): any {
  return JSON.parse(message.result.content[0].text);
}

async function setup() {
  const tenant = await seedTenant(['notes'], ['member', 'admin']);
  const a = await obtainToken(tenant.accounts.member!, 'notes');
  const b = await obtainToken(tenant.accounts.admin!, 'notes');
  const session = await openSession('notes', a.access_token);
  expect(
    (await call('notes', a.access_token, session, 'tools/call', { name: 'add_note', arguments: { title: 'A private', body: 'secret plans' } })).status,
  ).toBe(200);
  return { tenant, a, b, session };
}

describe('session ownership', () => {
  it('answers 404 to another user holding the owner session id, on POST, GET and DELETE, and leaves the session intact', async () => {
    const { a, b, session } = await setup();
    const hijack = await mcpPost(
      'notes',
      b.access_token,
      { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'list_notes', arguments: {} } },
      session,
    );
    expect(hijack.status).toBe(404);
    expect(await hijack.json()).toMatchObject({ error: { code: -32001, message: 'Session not found' } });
    const headers = { authorization: `Bearer ${b.access_token}`, 'mcp-session-id': session, accept: 'text/event-stream', 'mcp-protocol-version': '2025-06-18' };
    expect((await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, { method: 'GET', headers })).status).toBe(404);
    expect((await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, { method: 'DELETE', headers })).status).toBe(404);

    const own = await call('notes', a.access_token, session, 'tools/call', { name: 'list_notes', arguments: {} });
    expect(own.status).toBe(200);
    expect(notesText(own.message).map((n: { title: string }) => n.title)).toEqual(['A private']);
  });

  it('binds the session to the OAuth client too: the same user through another client gets 404', async () => {
    const { tenant, session } = await setup();
    const other = await obtainToken(tenant.accounts.member!, 'notes', 'mcp', await registerClient('second client'));
    expect((await mcpPost('notes', other.access_token, { jsonrpc: '2.0', id: 1, method: 'ping' }, session)).status).toBe(404);
  });

  it('refuses forged and unknown session ids without creating a Durable Object', async () => {
    const { a, session } = await setup();
    const before = (await listDurableObjectIds(env.NOTES_SERVER)).length;
    const [raw, mac] = session.split('.') as [string, string];
    const flipped = `${raw}.${mac.slice(0, -1)}${mac.endsWith('0') ? '1' : '0'}`;
    const unknown = `${'ab'.repeat(32)}.${'cd'.repeat(16)}`;
    for (const id of [flipped, unknown, raw, 'not-a-session', `${raw}.${mac}.x`]) {
      const res = await mcpPost('notes', a.access_token, { jsonrpc: '2.0', id: 1, method: 'ping' }, id);
      expect(res.status, id).toBe(404);
    }
    expect((await listDurableObjectIds(env.NOTES_SERVER)).length).toBe(before);
  });

  it('lets the owner end the session with DELETE; the id is then unknown', async () => {
    const { a, session } = await setup();
    const del = await SELF.fetch(`${ORIGIN}/servers/notes/mcp`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${a.access_token}`, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' },
    });
    expect(del.status).toBe(204);
    expect((await mcpPost('notes', a.access_token, { jsonrpc: '2.0', id: 1, method: 'ping' }, session)).status).toBe(404);
  });

  it('records the owner inside the session object (defence in depth behind the gate)', async () => {
    const { tenant, session } = await setup();
    const raw = session.split('.')[0]!;
    const stub = env.NOTES_SERVER.get(env.NOTES_SERVER.idFromName(`streamable-http:${raw}`));
    const owner = await runInDurableObject(stub, (_instance, state) => state.storage.get<string>('smcp:owner'));
    expect(owner).toMatch(new RegExp(`^${tenant.id}\\|oauth\\|usr_[0-9a-f]+\\|`));
  });
});
