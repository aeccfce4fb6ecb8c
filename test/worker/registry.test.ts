import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import * as entry from '../../src/index';
import { HostedMcpAgent } from '../../src/hosted/hosted-mcp-agent';
import { SERVERS, SERVER_NAME_PATTERN } from '../../servers/registry';
import { PLATFORM_OBJECTS } from '../../src/platform-objects';

describe('server registry agrees with the Worker', () => {
  it.each(SERVERS.map((s) => [s.name, s] as const))('%s: class exported by the entry, extends HostedMcpAgent, bound as a Durable Object', (_name, server) => {
    expect(server.name).toMatch(SERVER_NAME_PATTERN);
    const cls = (entry as Record<string, unknown>)[server.className];
    expect(cls, `export { ${server.className} } from src/index.ts (servers/classes.ts)`).toBeTypeOf('function');
    expect((cls as { prototype: unknown }).prototype, `${server.className} must extend HostedMcpAgent`).toBeInstanceOf(HostedMcpAgent);
    const binding = (env as unknown as Record<string, unknown>)[server.binding];
    expect(binding, `wrangler.jsonc durable_objects.bindings needs { "name": "${server.binding}", "class_name": "${server.className}" }`).toBeDefined();
    expect(typeof (binding as DurableObjectNamespace).idFromName).toBe('function');
  });

  it.each(PLATFORM_OBJECTS.map((o) => [o.className, o] as const))('%s: platform Durable Object exported by the entry and bound', (_name, object) => {
    expect((entry as Record<string, unknown>)[object.className], `export { ${object.className} } from '${object.module}' in src/index.ts`).toBeTypeOf(
      'function',
    );
    const binding = (env as unknown as Record<string, unknown>)[object.binding];
    expect(typeof (binding as DurableObjectNamespace | undefined)?.idFromName).toBe('function');
  });

  it('has unique names, bindings and classes', () => {
    for (const key of ['name', 'binding', 'className'] as const) {
      expect(new Set(SERVERS.map((s) => s[key])).size).toBe(SERVERS.length);
    }
  });
});
