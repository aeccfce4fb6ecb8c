/**
 * The files `npm run new-server` writes for a new hosted server: a `HostedMcpAgent` with one tool,
 * one resource and one prompt, and a test that drives it through the platform with the test kit.
 */

export interface ServerNames {
  /** URL name, e.g. `weather-report`. */
  name: string;
  /** Class name, e.g. `WeatherReportServer`. */
  className: string;
  /** Durable Object binding, e.g. `WEATHER_REPORT_SERVER`. */
  binding: string;
  /** Human title, e.g. `Weather Report`. */
  title: string;
}

/** `weather-report` → class, binding and title. */
export function namesFor(name: string, title?: string): ServerNames {
  const words = name.split('-');
  return {
    name,
    className: `${words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')}Server`,
    binding: `${words.join('_').toUpperCase()}_SERVER`,
    title: title ?? words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' '),
  };
}

/** A string literal for generated TypeScript (single-quoted). */
export function tsString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

export function serverSource(n: ServerNames): string {
  return `import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { HostedMcpAgent, type HostedServerInfo } from '../../src/hosted/hosted-mcp-agent';

/**
 * ${n.title}: say here what this server is for. Scaffolded by \`npm run new-server\`; docs/servers.md
 * explains the base class, tool annotations and permissions, state, storage and secrets.
 */
export class ${n.className} extends HostedMcpAgent {
  protected readonly info: HostedServerInfo = {
    name: ${tsString(n.name)},
    version: '0.1.0',
    title: ${tsString(n.title)},
    instructions: 'Tell the model what this server offers and when to use it.',
  };

  protected register(server: McpServer): void {
    // readOnlyHint: true opens a tool to read-only callers; without it, members and admins only.
    // For admins only, add _meta: { 'smcp/minRole': 'admin' }.
    server.registerTool(
      'greet',
      {
        title: 'Greet',
        description: 'Say hello to someone, from the caller\\'s tenant.',
        inputSchema: { name: z.string().min(1).max(100) },
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      ({ name }) => ({ content: [{ type: 'text', text: \`Hello, \${name}, from tenant \${this.principal().tenantId}\` }] }),
    );

    server.registerResource(
      'about',
      '${n.name}://about',
      { title: 'About', description: 'What this server does.', mimeType: 'text/plain' },
      (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: ${tsString(`${n.title}: scaffolded by npm run new-server.`)} }] }),
    );

    server.registerPrompt(
      'introduce',
      { title: 'Introduce', description: 'Ask the model to introduce someone.', argsSchema: { name: z.string().min(1).max(100) } },
      ({ name }) => ({ messages: [{ role: 'user', content: { type: 'text', text: \`Please introduce \${name}.\` } }] }),
    );
  }
}
`;
}

export function testSource(n: ServerNames): string {
  return `import { describe, expect, it } from 'vitest';
import { startSession } from '../../test/kit/server-test-kit';

// Runs inside workerd through the whole platform (see docs/servers.md, "Testing").
describe(${tsString(`${n.name} server`)}, () => {
  it('greets from the caller\\'s tenant', async () => {
    const s = await startSession(${tsString(n.name)});
    const result = await s.callTool('greet', { name: 'Ada' });
    expect(result.isError).toBeFalsy();
    expect(s.text(result)).toBe(\`Hello, Ada, from tenant \${s.tenantId}\`);
  });

  it('serves its tool, resource and prompt to read-only callers', async () => {
    const s = await startSession(${tsString(n.name)}, { role: 'read-only' });
    expect(await s.listTools()).toEqual(['greet']);
    const about = await s.readResource('${n.name}://about');
    expect(about.contents[0].text).toContain(${tsString(n.title)});
    const prompt = await s.getPrompt('introduce', { name: 'Ada' });
    expect(prompt.messages[0].content.text).toBe('Please introduce Ada.');
  });
});
`;
}
