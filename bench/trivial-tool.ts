import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

/** Name of the one tool every benchmark variant serves. */
export const TRIVIAL_TOOL = 'echo';

/**
 * The benchmark's tool, registered identically on every variant (bare McpAgent, HostedMcpAgent,
 * the Node SDK peer) so that differences measure the hosting, not the tool. It validates a small
 * input and returns it: enough to exercise schema validation and result serialization.
 */
export function registerTrivialTool(server: McpServer): void {
  server.registerTool(
    TRIVIAL_TOOL,
    {
      title: 'Echo',
      description: 'Return the given text.',
      inputSchema: { text: z.string().max(1000) },
      annotations: { readOnlyHint: true },
    },
    ({ text }) => ({ content: [{ type: 'text' as const, text }] }),
  );
}
