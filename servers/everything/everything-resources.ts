import type { AuthorServer } from '../../src/hosted/author-api';

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
 * `resources/subscribe` and `resources/unsubscribe` (2025 sessions) are answered by the
 * platform for servers declaring `resources.subscribe` (see legacy-adapter.ts); the
 * 2026-07-28 lane has `subscriptions/listen` instead.
 */
export function registerEverythingResources(server: AuthorServer): void {
  server.resource(
    'static-text',
    STATIC_TEXT_URI,
    { title: 'Static text', description: 'A static text resource for testing.', mimeType: 'text/plain' },
    (uri) => ({
      contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'This is the content of the static text resource.' }],
    }),
  );

  server.resource(
    'static-binary',
    STATIC_BINARY_URI,
    { title: 'Static binary', description: 'A static binary resource (1x1 PNG) for testing.', mimeType: 'image/png' },
    (uri) => ({ contents: [{ uri: uri.href, mimeType: 'image/png', blob: TEST_IMAGE_PNG_BASE64 }] }),
  );

  server.resourceTemplate(
    'template-data',
    {
      // A template, not a listable collection: resources/list must only show direct resources.
      uriTemplate: 'test://template/{id}/data',
      complete: { id: (value) => TEMPLATE_IDS.filter((id) => id.startsWith(value)) },
    },
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

  server.resource(
    'watched-resource',
    WATCHED_URI,
    {
      title: 'Watched resource',
      description: 'A resource clients can subscribe to (resources/subscribe).',
      mimeType: 'text/plain',
    },
    (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: 'Watched resource content' }] }),
  );
}
