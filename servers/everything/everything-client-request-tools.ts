import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CreateMessageResultSchema,
  ElicitResultSchema,
  type CallToolResult,
  type ElicitRequestFormParams,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;
type RequestedSchema = ElicitRequestFormParams['requestedSchema'];

/** SEP-1034: one property per primitive type, each with a default. */
const DEFAULTS_SCHEMA: RequestedSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'User name', default: 'John Doe' },
    age: { type: 'integer', description: 'User age', default: 30 },
    score: { type: 'number', description: 'User score', default: 95.5 },
    status: {
      type: 'string',
      description: 'User status',
      enum: ['active', 'inactive', 'pending'],
      default: 'active',
    },
    verified: { type: 'boolean', description: 'Verification status', default: true },
  },
  required: [],
};

/** SEP-1330: all five enum variants (untitled/titled single, legacy enumNames, untitled/titled multi). */
const ENUMS_SCHEMA: RequestedSchema = {
  type: 'object',
  properties: {
    untitledSingle: {
      type: 'string',
      description: 'Select one option',
      enum: ['option1', 'option2', 'option3'],
    },
    titledSingle: {
      type: 'string',
      description: 'Select one option with titles',
      oneOf: [
        { const: 'value1', title: 'First Option' },
        { const: 'value2', title: 'Second Option' },
        { const: 'value3', title: 'Third Option' },
      ],
    },
    legacyEnum: {
      type: 'string',
      description: 'Select one option (legacy)',
      enum: ['opt1', 'opt2', 'opt3'],
      enumNames: ['Option One', 'Option Two', 'Option Three'],
    },
    untitledMulti: {
      type: 'array',
      description: 'Select multiple options',
      minItems: 1,
      maxItems: 3,
      items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
    },
    titledMulti: {
      type: 'array',
      description: 'Select multiple options with titles',
      minItems: 1,
      maxItems: 3,
      items: {
        anyOf: [
          { const: 'value1', title: 'First Choice' },
          { const: 'value2', title: 'Second Choice' },
          { const: 'value3', title: 'Third Choice' },
        ],
      },
    },
  },
  required: [],
};

function errorResult(message: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: message }] };
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Sends `elicitation/create` on the originating request's stream (via `extra`) and
 * renders the outcome; a client without elicitation support yields a tool error.
 */
async function elicit(
  extra: ToolExtra,
  message: string,
  requestedSchema: RequestedSchema,
  prefix: string,
): Promise<CallToolResult> {
  try {
    const result = await extra.sendRequest(
      { method: 'elicitation/create', params: { message, requestedSchema } },
      ElicitResultSchema,
      { signal: extra.signal },
    );
    return {
      content: [
        {
          type: 'text',
          text: `${prefix}: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`,
        },
      ],
    };
  } catch (error) {
    return errorResult(`Elicitation not supported or failed: ${describeError(error)}`);
  }
}

/**
 * Registers the `everything` tools that call back into the client (sampling and
 * elicitation, including the SEP-1034 defaults and SEP-1330 enum variants). They
 * are kept apart because they are the ones whose server→client requests must ride
 * the originating tools/call stream, which is what these tools exist to exercise.
 */
export function registerEverythingClientRequestTools(server: McpServer): void {
  server.registerTool(
    'test_sampling',
    {
      title: 'Sampling',
      description: 'Asks the client to sample an LLM completion (sampling/createMessage) for the prompt.',
      inputSchema: { prompt: z.string().describe('The prompt to send to the LLM') },
    },
    async ({ prompt }, extra) => {
      try {
        const result = await extra.sendRequest(
          {
            method: 'sampling/createMessage',
            params: {
              messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
              maxTokens: 100,
            },
          },
          CreateMessageResultSchema,
          { signal: extra.signal },
        );
        const reply = result.content.type === 'text' ? result.content.text : `[${result.content.type} content]`;
        return { content: [{ type: 'text', text: `LLM response: ${reply}` }] };
      } catch (error) {
        return errorResult(`Sampling not supported or failed: ${describeError(error)}`);
      }
    },
  );

  server.registerTool(
    'test_elicitation',
    {
      title: 'Elicitation',
      description: 'Asks the user (elicitation/create) for a username and email address.',
      inputSchema: { message: z.string().describe('The message to show the user') },
    },
    ({ message }, extra) =>
      elicit(
        extra,
        message,
        {
          type: 'object',
          properties: {
            username: { type: 'string', description: "User's response" },
            email: { type: 'string', description: "User's email address" },
          },
          required: ['username', 'email'],
        },
        'User response',
      ),
  );

  server.registerTool(
    'test_elicitation_sep1034_defaults',
    {
      title: 'Elicitation defaults (SEP-1034)',
      description: 'Elicits a form whose string, integer, number, enum and boolean fields carry defaults.',
    },
    (extra) =>
      elicit(extra, 'Please review and update the form fields with defaults', DEFAULTS_SCHEMA, 'Elicitation completed'),
  );

  server.registerTool(
    'test_elicitation_sep1330_enums',
    {
      title: 'Elicitation enums (SEP-1330)',
      description: 'Elicits a form using all five enum schema variants.',
    },
    (extra) => elicit(extra, 'Please select options from the enum fields', ENUMS_SCHEMA, 'Elicitation completed'),
  );
}
