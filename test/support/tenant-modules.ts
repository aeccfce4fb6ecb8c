/**
 * Tenant module sources used by the tenant-server tests and the benchmark: a well-behaved module,
 * and one tool per isolation attack (each attack returns what it managed to observe, so a test can
 * assert it observed nothing).
 */

/** A small well-behaved module: echo (read-only), a counter in tenant KV, a file round trip, progress and logs. */
export const GOOD_MODULE = `
export default {
  tools: {
    echo: {
      description: 'Echo the text back',
      inputSchema: { type: 'object', properties: { text: { type: 'string', maxLength: 1000 } }, required: ['text'], additionalProperties: false },
      annotations: { readOnlyHint: true },
      run: async ({ text }, ctx) => ({ content: [{ type: 'text', text: 'v1:' + text + ':' + ctx.caller.tenant + ':' + ctx.caller.role }] }),
    },
    bump: {
      description: 'Increment a counter in the tenant KV',
      inputSchema: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'] },
      run: async ({ key }, ctx) => {
        const n = Number((await ctx.kv.get(key)) ?? '0') + 1;
        await ctx.kv.put(key, String(n));
        await ctx.files.put('counters/' + key + '.txt', String(n));
        await ctx.progress(1, 1, 'stored');
        await ctx.log('info', { key, n });
        return { content: [{ type: 'text', text: String(n) }], structuredContent: { n, file: await ctx.files.get('counters/' + key + '.txt') } };
      },
    },
  },
};
`;

/** The same module, version 2: echo answers with a different prefix. */
export const GOOD_MODULE_V2 = GOOD_MODULE.replace("'v1:'", "'v2:'");

/** A tool that runs `body` (an async function body with `args` and `ctx` in scope) and returns its value as JSON text (with the JSON.stringify of module load). */
export function attackTool(body: string): string {
  return `{
    description: 'attack',
    inputSchema: { type: 'object' },
    run: async (args, ctx) => {
      const value = await (async () => { ${body} })();
      return { content: [{ type: 'text', text: stringify(value ?? null) }] };
    },
  }`;
}

/** A module whose tools are the given attacks, by name. */
export function attackModule(tools: Record<string, string>): string {
  return `const stringify = JSON.stringify;
export default { tools: { ${Object.entries(tools)
    .map(([name, body]) => `${JSON.stringify(name)}: ${attackTool(body)}`)
    .join(',\n')} } };`;
}
