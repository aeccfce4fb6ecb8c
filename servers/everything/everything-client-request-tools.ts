import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { AuthorServer, PlatformCall } from '../../src/hosted/author-api';

/** SEP-1034: one property per primitive type, each with a default. */
const DEFAULTS_SCHEMA: Record<string, unknown> = {
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
const ENUMS_SCHEMA: Record<string, unknown> = {
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

function text(value: string): CallToolResult {
  return { content: [{ type: 'text', text: value }] };
}

/** Asks for a form and renders the outcome; a client without elicitation support yields a tool error. */
async function elicit(call: PlatformCall, message: string, requestedSchema: Record<string, unknown>, prefix: string): Promise<CallToolResult> {
  try {
    const result = await call.elicit('form', { message, requestedSchema });
    return text(`${prefix}: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`);
  } catch (error) {
    return errorResult(`Elicitation not supported or failed: ${describeError(error)}`);
  }
}

const NAME_FORM = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] };

/**
 * Registers the `everything` tools that need input from the client: sampling and elicitation
 * (including the SEP-1034 defaults and SEP-1330 enum variants), and the multi-round-trip fixtures
 * of the 2026-07-28 conformance suite (SEP-2322). They are written once through `call.elicit`,
 * `call.sample`, `call.listRoots` and `call.input`: in a session those are real server-to-client
 * requests on the tools/call stream; statelessly the call answers `input_required` and runs again
 * when the client retries with the answers.
 */
export function registerEverythingClientRequestTools(server: AuthorServer): void {
  server.tool(
    'test_sampling',
    {
      title: 'Sampling',
      description: 'Asks the client to sample an LLM completion (sampling/createMessage) for the prompt.',
      inputSchema: { prompt: z.string().describe('The prompt to send to the LLM') },
    },
    async ({ prompt }, call) => {
      try {
        const result = await call.sample('completion', { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 });
        const reply = result.content.type === 'text' ? result.content.text : `[${result.content.type} content]`;
        return text(`LLM response: ${reply}`);
      } catch (error) {
        return errorResult(`Sampling not supported or failed: ${describeError(error)}`);
      }
    },
  );

  server.tool(
    'test_elicitation',
    {
      title: 'Elicitation',
      description: 'Asks the user (elicitation/create) for a username and email address.',
      inputSchema: { message: z.string().describe('The message to show the user') },
    },
    ({ message }, call) =>
      elicit(
        call,
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

  server.tool(
    'test_elicitation_sep1034_defaults',
    { title: 'Elicitation defaults (SEP-1034)', description: 'Elicits a form whose string, integer, number, enum and boolean fields carry defaults.' },
    (_args, call) => elicit(call, 'Please review and update the form fields with defaults', DEFAULTS_SCHEMA, 'Elicitation completed'),
  );

  server.tool(
    'test_elicitation_sep1330_enums',
    { title: 'Elicitation enums (SEP-1330)', description: 'Elicits a form using all five enum schema variants.' },
    (_args, call) => elicit(call, 'Please select options from the enum fields', ENUMS_SCHEMA, 'Elicitation completed'),
  );

  server.tool(
    'test_streaming_elicitation',
    { title: 'Elicitation (stream check)', description: 'Asks for a name; statelessly the answer is an input_required result, never a request on the stream.' },
    (_args, call) => elicit(call, 'What is your name?', NAME_FORM, 'Elicitation completed'),
  );

  server.tool(
    'test_missing_capability',
    {
      title: 'Needs sampling',
      description: 'Needs the sampling capability; a client that did not declare it gets MissingRequiredClientCapability (-32021) statelessly.',
    },
    async (_args, call) => {
      const result = await call.sample('needs_sampling', { messages: [{ role: 'user', content: { type: 'text', text: 'Say hello' } }], maxTokens: 20 });
      return text(`Sampled: ${result.content.text ?? ''}`);
    },
  );

  registerMultiRoundTripTools(server);
}

/** The SEP-2322 fixtures (2026-07-28 conformance); in a session the same code sends real requests. */
function registerMultiRoundTripTools(server: AuthorServer): void {
  server.tool(
    'test_input_required_result_elicitation',
    { title: 'MRTR: elicitation', description: 'Asks for a name (user_name) and greets it.' },
    async (_args, call) => {
      const answer = await call.elicit('user_name', { message: 'What is your name?', requestedSchema: NAME_FORM });
      return text(`Hello, ${String(answer.content?.name ?? 'stranger')}!`);
    },
  );

  server.tool(
    'test_input_required_result_sampling',
    { title: 'MRTR: sampling', description: 'Asks the client to sample an answer (capital_question).' },
    async (_args, call) => {
      const answer = await call.sample('capital_question', {
        messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }],
        maxTokens: 100,
      });
      return text(`Sampled answer: ${answer.content.text ?? `[${answer.content.type}]`}`);
    },
  );

  server.tool(
    'test_input_required_result_list_roots',
    { title: 'MRTR: roots', description: "Asks for the client's roots (client_roots)." },
    async (_args, call) => {
      const { roots } = await call.listRoots('client_roots');
      return text(`Roots: ${roots.map((r) => r.uri).join(', ') || '(none)'}`);
    },
  );

  server.tool(
    'test_input_required_result_request_state',
    { title: 'MRTR: request state', description: 'Asks for confirmation and checks the signed requestState on the retry.' },
    async (_args, call) => {
      const answer = await call.elicit('confirm', {
        message: 'Please confirm',
        requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
      });
      return text(`${call.resumed ? 'state-ok' : 'no-state'}: confirmed=${String(answer.content?.ok ?? false)}`);
    },
  );

  server.tool(
    'test_input_required_result_tampered_state',
    { title: 'MRTR: tampered state', description: 'Like request_state; a tampered requestState is refused.' },
    async (_args, call) => {
      const answer = await call.elicit('confirm', {
        message: 'Please confirm',
        requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
      });
      return text(`state-ok: confirmed=${String(answer.content?.ok ?? false)}`);
    },
  );

  server.tool(
    'test_input_required_result_multiple_inputs',
    { title: 'MRTR: several inputs', description: 'Asks for a name, a sampled greeting and the roots in one round.' },
    async (_args, call) => {
      const answers = await call.input({
        user_name: { method: 'elicitation/create', params: { message: 'What is your name?', requestedSchema: NAME_FORM } },
        greeting: {
          method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }], maxTokens: 50 },
        },
        client_roots: { method: 'roots/list', params: {} },
      });
      return text(`All inputs received: ${Object.keys(answers).sort().join(', ')}`);
    },
  );

  server.tool(
    'test_input_required_result_multi_round',
    { title: 'MRTR: two rounds', description: 'Asks for a name, then a colour, in two rounds.' },
    async (_args, call) => {
      const step1 = await call.elicit('step1', { message: 'Step 1: What is your name?', requestedSchema: NAME_FORM });
      const step2 = await call.elicit('step2', {
        message: 'Step 2: What is your favorite color?',
        requestedSchema: { type: 'object', properties: { color: { type: 'string' } }, required: ['color'] },
      });
      return text(`Multi-round input complete: ${String(step1.content?.name ?? '')} likes ${String(step2.content?.color ?? '')}`);
    },
  );

  server.tool(
    'test_input_required_result_capabilities',
    { title: 'MRTR: capabilities', description: 'Asks only for what the client declared it supports.' },
    async (_args, call) => {
      const requests: Parameters<PlatformCall['input']>[0] = {};
      if (call.clientSupports('sampling'))
        requests.greeting = {
          method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }], maxTokens: 50 },
        };
      if (call.clientSupports('elicitation'))
        requests.user_name = { method: 'elicitation/create', params: { message: 'What is your name?', requestedSchema: NAME_FORM } };
      if (call.clientSupports('roots')) requests.client_roots = { method: 'roots/list', params: {} };
      if (Object.keys(requests).length === 0) return text('The client declared no input capabilities');
      const answers = await call.input(requests);
      return text(`Inputs received: ${Object.keys(answers).sort().join(', ')}`);
    },
  );
}
