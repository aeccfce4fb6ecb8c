import { env, evictDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, obtainToken, openSession, seedTenant } from './platform-client';

const titles = (message: any) => JSON.parse(message.result.content[0].text).map((n: { title: string }) => n.title);

describe('notes server', () => {
  it('keeps notes in the session SQLite across eviction of the Durable Object', async () => {
    const { accounts } = await seedTenant(['notes']);
    const { access_token } = await obtainToken(accounts.member!, 'notes');
    const session = await openSession('notes', access_token);
    for (const title of ['one', 'two', 'three']) {
      await call('notes', access_token, session, 'tools/call', { name: 'add_note', arguments: { title, body: `body of ${title}` } });
    }
    const stub = env.NOTES_SERVER.get(env.NOTES_SERVER.idFromName(`streamable-http:${session.split('.')[0]}`));
    await evictDurableObject(stub);
    const after = await call('notes', access_token, session, 'tools/call', { name: 'list_notes', arguments: {} });
    expect(after.status).toBe(200);
    expect(titles(after.message)).toEqual(['three', 'two', 'one']);
    const found = await call('notes', access_token, session, 'tools/call', { name: 'search_notes', arguments: { query: 'of tw' } });
    expect(titles(found.message)).toEqual(['two']);
  });

  it('keeps sessions apart: a second session of the same user starts empty', async () => {
    const { accounts } = await seedTenant(['notes']);
    const { access_token } = await obtainToken(accounts.member!, 'notes');
    const first = await openSession('notes', access_token);
    await call('notes', access_token, first, 'tools/call', { name: 'add_note', arguments: { title: 'only in first' } });
    const second = await openSession('notes', access_token);
    expect(titles((await call('notes', access_token, second, 'tools/call', { name: 'list_notes', arguments: {} })).message)).toEqual([]);
  });

  it('answers bad tool arguments and unknown notes with tool errors, not transport failures', async () => {
    const { accounts } = await seedTenant(['notes']);
    const { access_token } = await obtainToken(accounts.member!, 'notes');
    const session = await openSession('notes', access_token);
    const bad = await call('notes', access_token, session, 'tools/call', { name: 'add_note', arguments: { title: '' } });
    expect(bad.status).toBe(200);
    expect(bad.message.result?.isError ?? bad.message.error).toBeTruthy();
    const missing = await call('notes', access_token, session, 'tools/call', { name: 'delete_note', arguments: { id: 999 } });
    expect(missing.message.result.isError).toBe(true);
  });
});
