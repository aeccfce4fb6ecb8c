import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { join } from 'node:path';
import { signInAndConsent } from './browser-forms.ts';

/**
 * Drive `mcp-remote` (the stdio↔HTTP proxy Claude Desktop and other local clients use) the way a
 * person would: the official SDK client speaks stdio to it; when mcp-remote prints the
 * authorization URL it would open in a browser, we sign in and consent with plain form posts and
 * follow the redirect to its loopback callback, which makes it exchange the code and connect.
 */
export interface McpRemoteSession {
  client: Client;
  /** Everything mcp-remote wrote to stderr so far (its log; never contains tokens). */
  log(): string;
  /** How many authorization URLs mcp-remote asked a browser to open. */
  authorizations(): number;
  close(): Promise<void>;
}

export interface McpRemoteOptions {
  root: string;
  /** Temporary HOME and MCP_REMOTE_CONFIG_DIR, so no tokens or state leak into the real home. */
  home: string;
  serverUrl: string;
  account: { email: string; password: string };
  extraArgs?: string[];
}

const AUTH_URL = /Please authorize this client by visiting:\s*\n(\S+)/g;

export async function connectThroughMcpRemote(opts: McpRemoteOptions): Promise<McpRemoteSession> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(opts.root, 'node_modules', 'mcp-remote', 'dist', 'proxy.js'), opts.serverUrl, ...(opts.extraArgs ?? [])],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: opts.home,
      MCP_REMOTE_CONFIG_DIR: join(opts.home, '.mcp-auth'),
      // `true` as the browser: mcp-remote's opener "succeeds" without launching anything; the
      // printed URL is what we follow. No DISPLAY, so no desktop browser can be picked up.
      BROWSER: 'true',
      DISPLAY: '',
      WAYLAND_DISPLAY: '',
      NO_COLOR: '1',
    },
    stderr: 'pipe',
  });
  let log = '';
  let handled = 0;
  let failure: Error | null = null;
  const pending: Promise<void>[] = [];
  transport.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    const urls = [...log.matchAll(AUTH_URL)].map((m) => m[1]!);
    while (handled < urls.length) {
      const authorizationUrl = urls[handled++]!;
      pending.push(
        (async () => {
          const callback = await signInAndConsent(authorizationUrl, opts.account);
          // The "browser" follows the redirect to mcp-remote's loopback callback server.
          const res = await fetch(callback);
          if (!res.ok) throw new Error(`mcp-remote callback answered ${res.status}: ${await res.text()}`);
        })().catch((error: Error) => {
          failure = error;
        }),
      );
    }
  });
  const client = new Client({ name: 'smcp-mcp-remote-e2e', version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (error) {
    await Promise.allSettled(pending);
    await transport.close().catch(() => undefined);
    throw new Error(`connecting through mcp-remote failed: ${String(error)}; ${failure ? `sign-in: ${String(failure)}; ` : ''}log:\n${log}`, { cause: error });
  }
  await Promise.all(pending);
  if (failure) throw failure;
  return {
    client,
    log: () => log,
    authorizations: () => handled,
    close: () => client.close(),
  };
}
