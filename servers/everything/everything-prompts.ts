import type { AuthorServer } from '../../src/hosted/author-api';
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
export function registerEverythingPrompts(server: AuthorServer): void {
  server.prompt('test_simple_prompt', { title: 'Simple prompt', description: 'A simple prompt without arguments.' }, () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'This is a simple prompt for testing.' } }],
  }));

  server.prompt(
    'test_prompt_with_arguments',
    {
      title: 'Prompt with arguments',
      description: 'A prompt with two required arguments that are substituted into the message.',
      argsSchema: {
        arg1: z.string().describe('First test argument'),
        arg2: z.string().describe('Second test argument'),
      },
      complete: { arg1: completeFrom(ARG1_SUGGESTIONS), arg2: completeFrom(ARG2_SUGGESTIONS) },
    },
    ({ arg1, arg2 }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` } }],
    }),
  );

  server.prompt(
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

  server.prompt('test_prompt_with_image', { title: 'Prompt with image', description: 'A prompt that includes image content.' }, () => ({
    messages: [
      { role: 'user', content: { type: 'image', data: TEST_IMAGE_PNG_BASE64, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
    ],
  }));

  server.prompt(
    'test_input_required_result_prompt',
    { title: 'Prompt needing input (SEP-2322)', description: 'Asks the user for context (user_context) before building the prompt.' },
    async (_args, call) => {
      const answer = await call.elicit('user_context', {
        message: 'What context should the prompt use?',
        requestedSchema: { type: 'object', properties: { context: { type: 'string' } }, required: ['context'] },
      });
      return { messages: [{ role: 'user', content: { type: 'text', text: `Prompt with context: ${String(answer.content?.context ?? '')}` } }] };
    },
  );
}
