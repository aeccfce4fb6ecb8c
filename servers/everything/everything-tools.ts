import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

import type { AuthorServer } from '../../src/hosted/author-api';
import { registerEverythingClientRequestTools } from './everything-client-request-tools';
import { TEST_AUDIO_WAV_BASE64, TEST_IMAGE_PNG_BASE64 } from './everything-fixtures';

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
    address: z.object({ street: z.string().optional(), city: z.string().optional() }).optional().meta({ $ref: '#/$defs/address' }),
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
export function registerEverythingTools(server: AuthorServer): void {
  server.tool('test_simple_text', { title: 'Simple text', description: 'Returns a simple text content block.' }, () =>
    text('This is a simple text response for testing.'),
  );

  server.tool('test_image_content', { title: 'Image content', description: 'Returns a 1x1 red PNG as image content.' }, () => ({
    content: [{ type: 'image', data: TEST_IMAGE_PNG_BASE64, mimeType: 'image/png' }],
  }));

  server.tool('test_audio_content', { title: 'Audio content', description: 'Returns a minimal WAV file as audio content.' }, () => ({
    content: [{ type: 'audio', data: TEST_AUDIO_WAV_BASE64, mimeType: 'audio/wav' }],
  }));

  server.tool('test_embedded_resource', { title: 'Embedded resource', description: 'Returns an embedded text resource.' }, () => ({
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
  }));

  server.tool(
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

  server.tool(
    'test_tool_with_logging',
    {
      title: 'Tool with logging',
      description: 'Emits three info log notifications, ~50 ms apart, while it runs.',
    },
    async (_args, call) => {
      await call.log('info', 'Tool execution started');
      await sleep(50, call.signal);
      await call.log('info', 'Tool processing data');
      await sleep(50, call.signal);
      await call.log('info', 'Tool execution completed');
      return text('Tool with logging executed successfully');
    },
  );

  server.tool(
    'test_tool_with_progress',
    {
      title: 'Tool with progress',
      description: 'Reports progress 0/100, 50/100 and 100/100 when the request carries a progressToken.',
    },
    async (_args, call) => {
      const steps = [0, 50, 100];
      for (const [index, progress] of steps.entries()) {
        await call.progress(progress, 100, `Completed step ${progress} of 100`);
        if (index < steps.length - 1) await sleep(50, call.signal);
      }
      return text('Progress tool completed');
    },
  );

  server.tool('test_error_handling', { title: 'Error handling', description: 'Always fails with a tool-level error (isError: true).' }, () => ({
    isError: true,
    content: [{ type: 'text', text: 'This tool intentionally returns an error for testing' }],
  }));

  server.tool(
    'test_reconnection',
    {
      title: 'SSE reconnection',
      description:
        'Closes the POST SSE stream mid-call (SEP-1699) so the client must resume with Last-Event-ID; ' +
        'the result is delivered on the resumed stream. Needs a transport with an event store.',
    },
    async (_args, call) => {
      // Only present in a session whose transport supports resumability (event store configured).
      call.closeStream?.();
      await sleep(100, call.signal);
      return text('Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure.');
    },
  );

  server.tool(
    'json_schema_2020_12_tool',
    {
      title: 'JSON Schema 2020-12',
      description: 'Tool with JSON Schema 2020-12 features ($schema, $defs, additionalProperties) (SEP-1613).',
      inputSchema: JSON_SCHEMA_2020_12_INPUT,
    },
    (args) => text(`JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`),
  );

  server.tool(
    'test_logging_tool',
    { title: 'Logging tool', description: 'Emits one info log message (only when the client asked for logs).' },
    async (_args, call) => {
      await call.log('info', 'Logging tool ran');
      return text('Logging tool executed');
    },
  );

  server.tool(
    'test_trigger_tool_change',
    { title: 'Trigger tools list change', description: 'Announces notifications/tools/list_changed to listening clients.' },
    (_args, call) => {
      call.listChanged('tools');
      return text('tools/list_changed announced');
    },
  );

  server.tool(
    'test_trigger_prompt_change',
    { title: 'Trigger prompts list change', description: 'Announces notifications/prompts/list_changed to listening clients.' },
    (_args, call) => {
      call.listChanged('prompts');
      return text('prompts/list_changed announced');
    },
  );

  registerEverythingClientRequestTools(server);
}
