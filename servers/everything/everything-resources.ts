import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';

import { TEST_IMAGE_PNG_BASE64 } from './everything-fixtures';

const STATIC_TEXT_URI = 'test://static-text';
const STATIC_BINARY_URI = 'test://static-binary';
const WATCHED_URI = 'test://watched-resource';

/** Sample ids offered by completion/complete for the `{id}` template variable. */
const TEMPLATE_IDS = ['1', '2', '3', '42', '100', '123'];

/**
 * Registers the resources, the resource template and the subscription handlers that
 * the MCP conformance suite's resource scenarios exercise on the `everything` server
 * (`test://static-text`, `test://static-binary`, `test://template/{id}/data` with
 * completion of `{id}`, and subscribe/unsubscribe on `test://watched-resource`).
 *
 * Subscriptions are not something `registerResource` can express, so this also
 * installs `resources/subscribe` and `resources/unsubscribe` handlers on the
 * underlying `Server`; they need the `resources.subscribe` capability to have been
 * declared in the McpServer constructor. Subscriptions are tracked per McpServer
 * instance (i.e. per session); no timers are used, so nothing outlives a call.
 */
export function registerEverythingResources(server: McpServer): void {
  server.registerResource(
    'static-text',
    STATIC_TEXT_URI,
    { title: 'Static text', description: 'A static text resource for testing.', mimeType: 'text/plain' },
    (uri) => ({
      contents: [
        { uri: uri.href, mimeType: 'text/plain', text: 'This is the content of the static text resource.' },
      ],
    }),
  );

  server.registerResource(
    'static-binary',
    STATIC_BINARY_URI,
    { title: 'Static binary', description: 'A static binary resource (1x1 PNG) for testing.', mimeType: 'image/png' },
    (uri) => ({ contents: [{ uri: uri.href, mimeType: 'image/png', blob: TEST_IMAGE_PNG_BASE64 }] }),
  );

  server.registerResource(
    'template-data',
    new ResourceTemplate('test://template/{id}/data', {
      // A template, not a listable collection: resources/list must only show direct resources.
      list: undefined,
      complete: {
        id: (value) => TEMPLATE_IDS.filter((id) => id.startsWith(value)),
      },
    }),
    {
      title: 'Template data',
      description: 'Resource template whose {id} is substituted into the returned JSON.',
      mimeType: 'application/json',
    },
    (uri, variables) => {
      const raw = variables['id'];
      const id = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
      return {
        contents: [
          {
            uri: uri.href,
            mimeType: 'application/json',
            text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }),
          },
        ],
      };
    },
  );

  server.registerResource(
    'watched-resource',
    WATCHED_URI,
    {
      title: 'Watched resource',
      description: 'A resource clients can subscribe to (resources/subscribe).',
      mimeType: 'text/plain',
    },
    (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Watched resource content' }] }),
  );

  const subscriptions = new Set<string>();

  server.server.setRequestHandler(SubscribeRequestSchema, (request) => {
    subscriptions.add(request.params.uri);
    return {};
  });

  server.server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
    subscriptions.delete(request.params.uri);
    return {};
  });
}
