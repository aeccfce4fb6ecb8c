import { describe, expect, it } from 'vitest';
import { adminCall, call, createKey, createTenant, openSession } from './platform-client';
import { GOOD_MODULE, GOOD_MODULE_V2 } from '../support/tenant-modules';

async function deploy(tenant: string, name: string, module: string, extra: Record<string, unknown> = {}) {
  return adminCall('PUT', `/tenants/${tenant}/servers/${name}`, { module, ...extra });
}

describe('tenant-deployed servers: deploy and serve', () => {
  it('deploys a module and serves its tools over the 2025 lane', async () => {
    const tenant = await createTenant([]);
    const name = `mod-${crypto.randomUUID().slice(0, 6)}`;
    const res = await deploy(tenant, name, GOOD_MODULE, { title: 'My module' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ name, version: 1, tools: ['echo', 'bump'], title: 'My module' });
    const { key } = await createKey(tenant, 'member');
    const session = await openSession(name, key);
    const list = await call(name, key, session, 'tools/list');
    expect(list.message.result.tools.map((t: { name: string }) => t.name)).toEqual(['echo', 'bump']);
    const echo = await call(name, key, session, 'tools/call', { name: 'echo', arguments: { text: 'hi' } });
    expect(echo.message.result.content[0].text).toBe(`v1:hi:${tenant}:member`);
    const bump = await call(name, key, session, 'tools/call', { name: 'bump', arguments: { key: 'c' } });
    expect(bump.message.result.structuredContent).toEqual({ n: 1, file: '1' });
  });
});
