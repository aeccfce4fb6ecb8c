import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { archiveKey } from '../../src/audit/audit-archive';
import { startSession } from '../kit/server-test-kit';
import { adminCall } from './platform-client';

/**
 * The daily audit exports sit in R2 beside tenant files, under `audit-exports/`, outside every
 * `tenant-<id>/` prefix. A tenant's storage tools must never read, list, overwrite or delete them,
 * whatever path they are given.
 */
describe('audit exports are out of reach of tenant storage tools', () => {
  it('keeps the export intact and unlisted through every path a tool call can name', async () => {
    const s = await startSession('storage', { role: 'member' });
    const t = s.tenantId;
    await env.DB.prepare('UPDATE tenants SET created_at = ? WHERE id = ?')
      .bind(Date.UTC(2026, 0, 1), t)
      .run();
    const day = '2026-02-03';
    const original = `${JSON.stringify({ id: crypto.randomUUID(), time: Date.UTC(2026, 1, 3), tenant: t, action: 'tools/call' })}\n`;
    await env.FILES.put(archiveKey(t, day), original);

    const targets = [
      // The export's own key, and that key relative to the tenant's folder (were exports ever moved inside it).
      archiveKey(t, day),
      archiveKey(t, day).replace(/^tenant-[^/]+\//, ''),
      `audit-exports/${t}/${day}.jsonl`,
      `../audit-exports/${t}/${day}.jsonl`,
      `../../audit-exports/${t}/${day}.jsonl`,
      `/audit-exports/${t}/${day}.jsonl`,
      `./../audit-exports/${t}/${day}.jsonl`,
      `..\\audit-exports\\${t}\\${day}.jsonl`,
      `%2e%2e/audit-exports/${t}/${day}.jsonl`,
    ];
    for (const path of targets) {
      const put = await s.callTool('files_put', { path, content: 'forged' });
      const get = await s.callTool('files_get', { path });
      // Either refused, or confined: what the tool wrote is what the tool reads, inside the tenant's folder.
      if (!put.isError) expect(s.text(get)).toBe('forged');
      else expect(get.isError, path).toBe(true);
    }
    expect(await (await env.FILES.get(archiveKey(t, day)))!.text()).toBe(original);
    const listed = s.json(await s.callTool('files_list', {})).files.map((f: { path: string }) => f.path);
    expect(listed.every((p: string) => !p.startsWith('../') && !p.startsWith('/'))).toBe(true);
    const exportKeys = (await env.FILES.list({ prefix: 'audit-exports/' })).objects.map((o) => o.key);
    expect(exportKeys.filter((k) => k.startsWith(`audit-exports/${t}/`))).toEqual([archiveKey(t, day)]);

    // The admin API serves the real file, not anything a tool wrote.
    const res = await adminCall('GET', `/tenants/${t}/audit/exports`);
    expect(res.body.exports.map((x: { date: string }) => x.date)).toEqual([day]);
  });
});
