import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type {
  CallToolResult,
  LoggingLevel,
  ServerNotification,
  ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

import { registerEverythingClientRequestTools } from './everything-client-request-tools';
import { TEST_AUDIO_WAV_BASE64, TEST_IMAGE_PNG_BASE64 } from './everything-fixtures';

type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const LOGGER_NAME = 'everything';

/**
 * SEP-1613 fixture: the suite checks that tools/list carries `$schema` (2020-12),
 * `$defs.address` and `additionalProperties: false` verbatim. SDK 1.x converts zod
 * schemas with the draft-07 target, so the dialect and `$defs` are supplied as zod
 * metadata, which zod's JSON Schema generator merges over its own output. The
 * schema is built once per isolate because `.meta()` registers in zod's global
 * registry (a WeakMap, so this is not a leak, merely pointless churn per session).
 */
const ADDRESS_JSON_SCHEMA = {
  type: 'object',
  properties: { street: { type: 'string' }, city: { type: 'string' } },
};
const JSON_SCHEMA_2020_12_INPUT = z
  .strictObject({
    name: z.string().optional(),
    address: z
      .object({ street: z.string().optional(), city: z.string().optional() })
      .optional()
      .meta({ $ref: '#/$defs/address' }),
  })
  .meta({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $defs: { address: ADDRESS_JSON_SCHEMA },
  });

/** Waits `ms` milliseconds, bounded by the call: resolves early when the request is aborted. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Whether the client's `logging/setLevel` filters out `level` for this session.
 * The level is stored by the SDK's built-in setLevel handler; its lookup is not
 * public API, so it is feature-detected and we log when it is unavailable.
 */
function isLevelIgnored(server: McpServer, level: LoggingLevel, extra: ToolExtra): boolean {
  const probe = (server.server as unknown as { isMessageIgnored?: unknown }).isMessageIgnored;
  if (typeof probe !== 'function') return false;
  const header = extra.requestInfo?.headers['mcp-session-id'];
  // Same lookup order as the SDK's logging/setLevel handler, so both agree on the session key.
  const sessionId = extra.sessionId || (typeof header === 'string' ? header : undefined);
  return (probe as (level: LoggingLevel, sessionId?: string) => boolean)(level, sessionId) === true;
}

/** Sends a log message on the originating request's stream, honouring the session's log level. */
async function logForRequest(
  server: McpServer,
  extra: ToolExtra,
  level: LoggingLevel,
  data: string,
): Promise<void> {
  if (isLevelIgnored(server, level, extra)) return;
  await extra.sendNotification({
    method: 'notifications/message',
    params: { level, logger: LOGGER_NAME, data },
  });
}

function text(value: string): CallToolResult {
  return { content: [{ type: 'text', text: value }] };
}

/**
 * Registers the tools the MCP conformance suite (`@modelcontextprotocol/conformance`
 * server scenarios) calls on the `everything` server: content-type tools, logging,
 * progress, error reporting, SSE reconnection (SEP-1699), the JSON Schema 2020-12
 * tool (SEP-1613) and, via {@link registerEverythingClientRequestTools}, the sampling
 * and elicitation tools. It exists so that the hosted `everything` server proves the
 * platform's transport carries every kind of tool traffic the spec defines.
 */
export function registerEverythingTools(server: McpServer): void {
  server.registerTool(
    'test_simple_text',
    { title: 'Simple text', description: 'Returns a simple text content block.' },
    () => text('This is a simple text response for testing.'),
  );

  server.registerTool(
    'test_image_content',
    { title: 'Image content', description: 'Returns a 1x1 red PNG as image content.' },
    () => ({ content: [{ type: 'image', data: TEST_IMAGE_PNG_BASE64, mimeType: 'image/png' }] }),
  );

  server.registerTool(
    'test_audio_content',
    { title: 'Audio content', description: 'Returns a minimal WAV file as audio content.' },
    () => ({ content: [{ type: 'audio', data: TEST_AUDIO_WAV_BASE64, mimeType: 'audio/wav' }] }),
  );

  server.registerTool(
    'test_embedded_resource',
    { title: 'Embedded resource', description: 'Returns an embedded text resource.' },
    () => ({
      content: [
        {
          type: 'resource',
          resource: {
            uri: 'test://embedded-resource',
            mimeType: 'text/plain',
            text: 'This is an embedded resource content.',
          },
        },
      ],
    }),
  );

  server.registerTool(
    'test_multiple_content_types',
    {
      title: 'Multiple content types',
      description: 'Returns text, image and embedded resource content in one result.',
    },
    () => ({
      content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: TEST_IMAGE_PNG_BASE64, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: {
            uri: 'test://mixed-content-resource',
            mimeType: 'application/json',
            text: JSON.stringify({ test: 'data', value: 123 }),
          },
        },
      ],
    }),
  );

  server.registerTool(
    'test_tool_with_logging',
    {
      title: 'Tool with logging',
      description: 'Emits three info log notifications, ~50 ms apart, while it runs.',
    },
    async (extra) => {
      await logForRequest(server, extra, 'info', 'Tool execution started');
      await sleep(50, extra.signal);
      await logForRequest(server, extra, 'info', 'Tool processing data');
      await sleep(50, extra.signal);
      await logForRequest(server, extra, 'info', 'Tool execution completed');
      return text('Tool with logging executed successfully');
    },
  );

  server.registerTool(
    'test_tool_with_progress',
    {
      title: 'Tool with progress',
      description: 'Reports progress 0/100, 50/100 and 100/100 when the request carries a progressToken.',
    },
    async (extra) => {
      const progressToken = extra._meta?.progressToken;
      const steps = [0, 50, 100];
      for (const [index, progress] of steps.entries()) {
        if (progressToken !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress, total: 100, message: `Completed step ${progress} of 100` },
          });
        }
        if (index < steps.length - 1) await sleep(50, extra.signal);
      }
      return text(
        progressToken === undefined
          ? 'Progress tool completed (no progress token supplied)'
          : `Progress tool completed for token ${String(progressToken)}`,
      );
    },
  );

  server.registerTool(
    'test_error_handling',
    { title: 'Error handling', description: 'Always fails with a tool-level error (isError: true).' },
    () => ({
      isError: true,
      content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }],
    }),
  );

  server.registerTool(
    'test_reconnection',
    {
      title: 'SSE reconnection',
      description:
        'Closes the POST SSE stream mid-call (SEP-1699) so the client must resume with Last-Event-ID; ' +
        'the result is delivered on the resumed stream. Needs a transport with an event store.',
    },
    async (extra) => {
      // Only present when the transport supports resumability (event store configured).
      extra.closeSSEStream?.();
      await sleep(100, extra.signal);
      return text(
        'Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.',
      );
    },
  );

  server.registerTool(
    'json_schema_2020_12_tool',
    {
      title: 'JSON Schema 2020-12',
      description: 'Tool with JSON Schema 2020-12 features ($schema, $defs, additionalProperties) (SEP-1613).',
      inputSchema: JSON_SCHEMA_2020_12_INPUT,
    },
    (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`),
  );

  registerEverythingClientRequestTools(server);
}
