import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { TestOAuthProvider } from './oauth-test-client.ts';

export type TransportKind = 'streamable-http' | 'sse';

function transportFor(kind: TransportKind, url: URL, provider: TestOAuthProvider) {
  return kind === 'sse' ? new SSEClientTransport(url, { authProvider: provider }) : new StreamableHTTPClientTransport(url, { authProvider: provider });
}

/**
 * Connect the official SDK client the way real clients do: the first attempt meets the 401, runs
 * discovery, registration and PKCE and sends the user to /authorize; after the code comes back,
 * `finishAuth` exchanges it and a fresh transport connects with the token.
 */
export async function connectWithOAuth(kind: TransportKind, url: string, provider: TestOAuthProvider): Promise<Client> {
  const endpoint = new URL(url);
  const first = transportFor(kind, endpoint, provider);
  const probe = new Client({ name: 'smcp-e2e', version: '1.0.0' });
  try {
    await probe.connect(first);
    return probe; // already had a valid token
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
  }
  if (!provider.code) throw new Error('authorization did not produce a code');
  await first.finishAuth(provider.code);
  const client = new Client({ name: 'smcp-e2e', version: '1.0.0' });
  await client.connect(transportFor(kind, endpoint, provider));
  return client;
}

/** The text of a tool result's first content block. */
export function firstText(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  const block = content.find((c) => c.type === 'text');
  if (!block?.text) throw new Error(`no text content in ${JSON.stringify(result)}`);
  return block.text;
}
