import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { TenantFiles } from '../../src/storage/tenant-files';
import { StorageKeyError, TenantKv } from '../../src/storage/tenant-kv';

describe('tenant-scoped storage helpers (real KV and R2)', () => {
  it('namespaces KV keys as tenant-<id>:<type>:<id> and never lists another tenant', async () => {
    const acme = new TenantKv(env.DATA_KV, 'acme');
    const globex = new TenantKv(env.DATA_KV, 'globex');
    await acme.put('note', 'n1', 'acme one');
    await acme.put('note', 'n2', 'acme two');
    await globex.put('note', 'n1', 'globex one');
    expect(acme.key('note', 'n1')).toBe('tenant-acme:note:n1');
    expect(await env.DATA_KV.get('tenant-acme:note:n1')).toBe('acme one');
    expect(await acme.get('note', 'n1')).toBe('acme one');
    expect(await globex.get('note', 'n1')).toBe('globex one');
    expect((await acme.list('note')).ids.sort()).toEqual(['n1', 'n2']);
    expect((await globex.list('note')).ids).toEqual(['n1']);
    await globex.delete('note', 'n1');
    expect(await acme.get('note', 'n1')).toBe('acme one');
  });

  it('refuses ids and types that could escape the namespace', () => {
    const kv = new TenantKv(env.DATA_KV, 'acme');
    expect(() => new TenantKv(env.DATA_KV, 'Acme:x')).toThrow(StorageKeyError);
    for (const [type, id] of [
      ['note:x', 'a'],
      ['', 'a'],
      ['note', ''],
      ['note', 'a\u0000b'],
      ['note', 'x'.repeat(481)],
    ]) {
      expect(() => kv.key(type!, id!), `${type} ${id}`).toThrow(StorageKeyError);
    }
  });

  it('keeps R2 objects under tenant-<id>/ and refuses traversal', async () => {
    const acme = new TenantFiles(env.FILES, 'acme');
    const globex = new TenantFiles(env.FILES, 'globex');
    await acme.put('reports/q1.txt', 'acme q1');
    await globex.put('reports/q1.txt', 'globex q1');
    expect(await (await acme.get('reports/q1.txt'))!.text()).toBe('acme q1');
    expect(await (await env.FILES.get('tenant-globex/reports/q1.txt'))!.text()).toBe('globex q1');
    expect((await acme.list({ dir: 'reports/' })).paths).toEqual(['reports/q1.txt']);
    for (const path of ['../globex/reports/q1.txt', 'reports/../../globex/x', '/etc/passwd', 'a//b', 'a\\b', '', './a']) {
      expect(() => acme.key(path), path).toThrow(StorageKeyError);
    }
    await expect(acme.list({ dir: '../' })).rejects.toThrow(StorageKeyError);
  });
});
