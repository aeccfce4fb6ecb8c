/**
 * The files `npm run new-server` writes for a new hosted server: one definition (`defineServer`)
 * with one tool, one resource and one prompt, served by both protocol eras through its
 * `HostedMcpAgent` class, and a test that drives it through the platform in both eras.
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

/** The exported definition's name: `weather-report` → `weatherReport`. */
function definitionName(n: ServerNames): string {
  return n.name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function serverSource(n: ServerNames): string {
  return `import { z } from 'zod';
import { defineServer } from '../../src/hosted/author-api';
import { HostedMcpAgent } from '../../src/hosted/hosted-mcp-agent';

/**
 * ${n.title}: say here what this server is for. Scaffolded by \`npm run new-server\`; docs/servers.md
 * explains the definition, tool annotations and permissions, state (handles), storage and secrets.
 * This one definition serves both protocol eras: 2025 sessions and stateless MCP 2026-07-28 clients.
 */
export const ${definitionName(n)} = defineServer(
  {
    name: ${tsString(n.name)},
    version: '0.1.0',
    title: ${tsString(n.title)},
    instructions: 'Tell the model what this server offers and when to use it.',
  },
  (server) => {
    // readOnlyHint: true opens a tool to read-only callers; without it, members and admins only.
    // For admins only, add _meta: { 'smcp/minRole': 'admin' }.
    server.tool(
      'greet',
      {
        title: 'Greet',
        description: 'Say hello to someone, from the caller\\'s tenant.',
        inputSchema: { name: z.string().min(1).max(100) },
        annotations: { readOnlyHint: true, openWorldHint: false },
      },
      ({ name }, call) => ({ content: [{ type: 'text', text: \`Hello, \${name}, from tenant \${call.principal.tenantId}\` }] }),
    );

    server.resource(
      'about',
      '${n.name}://about',
      { title: 'About', description: 'What this server does.', mimeType: 'text/plain' },
      (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: ${tsString(`${n.title}: scaffolded by npm run new-server.`)} }] }),
    );

    server.prompt(
      'introduce',
      { title: 'Introduce', description: 'Ask the model to introduce someone.', argsSchema: { name: z.string().min(1).max(100) } },
      ({ name }) => ({ messages: [{ role: 'user', content: { type: 'text', text: \`Please introduce \${name}.\` } }] }),
    );
  },
);

/** The hosted server: sessions are served by this class, stateless requests from the same definition. */
export class ${n.className} extends HostedMcpAgent {
  static override readonly definition = ${definitionName(n)};
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

  it('serves stateless MCP 2026-07-28 callers from the same definition', async () => {
    const s = await startSession(${tsString(n.name)}, { era: '2026-07-28' });
    expect(s.text(await s.callTool('greet', { name: 'Ada' }))).toBe(\`Hello, Ada, from tenant \${s.tenantId}\`);
    expect(await s.listTools()).toEqual(['greet']);
  });
});
`;
}
