import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

import { TEST_IMAGE_PNG_BASE64 } from './everything-fixtures';

/** Candidate values offered by completion/complete for `test_prompt_with_arguments`. */
const ARG1_SUGGESTIONS = ['paris', 'park', 'party', 'testValue1', 'testValue2'];
const ARG2_SUGGESTIONS = ['world', 'wonder', 'testValue1', 'testValue2'];

function completeFrom(candidates: readonly string[]): (value: string) => string[] {
  return (value) => candidates.filter((candidate) => candidate.startsWith(value));
}

/**
 * Registers the prompts the MCP conformance suite's prompt and completion scenarios
 * use on the `everything` server: a plain prompt, one with (completable) arguments,
 * one embedding a resource and one carrying an image. The completable arguments are
 * what makes the SDK install the `completion/complete` handler, so the `completions`
 * capability declared by the server is actually backed by an endpoint.
 */
export function registerEverythingPrompts(server: McpServer): void {
  server.registerPrompt(
    'test_simple_prompt',
    { title: 'Simple prompt', description: 'A simple prompt without arguments.' },
    () => ({
      messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
    }),
  );

  server.registerPrompt(
    'test_prompt_with_arguments',
    {
      title: 'Prompt with arguments',
      description: 'A prompt with two required arguments that are substituted into the message.',
      argsSchema: {
        arg1: completable(z.string().describe('First test argument'), completeFrom(ARG1_SUGGESTIONS)),
        arg2: completable(z.string().describe('Second test argument'), completeFrom(ARG2_SUGGESTIONS)),
      },
    },
    ({ arg1, arg2 }) => ({
      messages: [
        { role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } },
      ],
    }),
  );

  server.registerPrompt(
    'test_prompt_with_embedded_resource',
    {
      title: 'Prompt with embedded resource',
      description: 'A prompt that embeds a text resource at the given URI.',
      argsSchema: { resourceUri: z.string().describe('URI of the resource to embed') },
    },
    ({ resourceUri }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' },
          },
        },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    }),
  );

  server.registerPrompt(
    'test_prompt_with_image',
    { title: 'Prompt with image', description: 'A prompt that includes image content.' },
    () => ({
      messages: [
        { role: 'user', content: { type: 'image', data: TEST_IMAGE_PNG_BASE64, mimeType: 'image/png' } },
        { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
      ],
    }),
  );
}
