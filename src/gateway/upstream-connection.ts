import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  LoggingMessageNotificationSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
  type ServerNotification,
} from '@modelcontextprotocol/sdk/types.js';
import { GatewayCode, UpstreamFault } from './upstream-errors';
import { guardedFetch } from './upstream-fetch';
import type { UpstreamEra } from './modern-wire';
import type { UpstreamSettings, UpstreamTransport } from './upstream-model';

/** Everything needed to reach one upstream (credentials already turned into headers). */
export interface UpstreamTarget {
  url: string;
  transport: UpstreamTransport;
  headers: Record<string, string>;
  settings: UpstreamSettings;
  allowPrivate: boolean;
  version: number;
  /** The era the replica speaks, from the state object's `server/discover` probe; absent (unknown) means the 2025 handshake. */
  era?: UpstreamEra;
}

/** What the upstream may push at us; the gateway session relays or refuses each. */
export interface UpstreamHooks {
  onNotification?(notification: ServerNotification): void;
  onToolsChanged?(): void;
  onSampling?(params: unknown): Promise<unknown>;
  onElicitation?(params: unknown): Promise<unknown>;
  onClose?(): void;
}

const CLIENT_INFO = { name: 'smcp-gateway', version: '0.1.0' };

/**
 * Connect the official MCP SDK client to an upstream, with the platform's guarded fetch and the
 * connect timeout applied to transport start and initialize. The client declares sampling and
 * elicitation so that an upstream asking for them gets a clear answer from the gateway (relayed
 * when the downstream client offered them, refused with an explanation when it did not).
 */
export async function connectUpstream(target: UpstreamTarget, hooks: UpstreamHooks = {}): Promise<Client> {
  const url = new URL(target.url);
  const fetch = guardedFetch({
    maxResponseBytes: target.settings.maxResponseBytes,
    allowPrivate: target.allowPrivate,
    headers: async () => target.headers,
    timeoutMs: target.settings.responseTimeoutMs,
  });
  const transport =
    target.transport === 'sse'
      ? new SSEClientTransport(url, { fetch })
      : new StreamableHTTPClientTransport(url, {
          fetch,
          reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1 },
        });
  const client = new Client(CLIENT_INFO, { capabilities: { sampling: {}, elicitation: {} }, jsonSchemaValidator: new CfWorkerJsonSchemaValidator() });
  const notify = (n: ServerNotification) => hooks.onNotification?.(n);
  client.setNotificationHandler(LoggingMessageNotificationSchema, notify);
  client.setNotificationHandler(ResourceListChangedNotificationSchema, notify);
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, notify);
  client.setNotificationHandler(PromptListChangedNotificationSchema, notify);
  client.setNotificationHandler(ToolListChangedNotificationSchema, (n) => {
    hooks.onToolsChanged?.();
    notify(n);
  });
  const refuse = (what: string) => new McpError(GatewayCode.NotOffered, `The upstream asked for ${what}, which the gateway cannot provide in this context`);
  client.setRequestHandler(
    CreateMessageRequestSchema,
    async (req) => (hooks.onSampling ? hooks.onSampling(req.params) : Promise.reject(refuse('sampling'))) as never,
  );
  client.setRequestHandler(
    ElicitRequestSchema,
    async (req) => (hooks.onElicitation ? hooks.onElicitation(req.params) : Promise.reject(refuse('elicitation'))) as never,
  );
  client.onclose = () => hooks.onClose?.();
  client.onerror = () => undefined; // failures surface on the request that suffered them
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new UpstreamFault(`upstream did not complete initialize within ${target.settings.connectTimeoutMs} ms`)),
      target.settings.connectTimeoutMs,
    );
  });
  try {
    await Promise.race([client.connect(transport, { timeout: target.settings.connectTimeoutMs }), deadline]);
  } catch (error) {
    await client.close().catch(() => undefined);
    throw asFault(error, 'connect');
  } finally {
    clearTimeout(timer);
  }
  return client;
}

/** Whether an error means the upstream itself failed (unreachable, timeout, 5xx, malformed), as opposed to a tool or protocol error. */
export function isUpstreamFault(error: unknown): boolean {
  if (error instanceof UpstreamFault) return true;
  if (error instanceof StreamableHTTPError)
    return error.code === undefined || error.code >= 500 || error.code === 429 || error.code === 404 || error.code === -1;
  if (error instanceof McpError)
    return (
      error.code === ErrorCode.RequestTimeout ||
      error.code === ErrorCode.ConnectionClosed ||
      error.code === GatewayCode.Unavailable ||
      error.code === GatewayCode.Malformed
    );
  return error instanceof Error && /not connected|fetch failed|network/i.test(error.message);
}

/** Normalise anything thrown while talking to the upstream into an error the client can read. */
export function asFault(error: unknown, during: string): Error {
  if (error instanceof McpError || error instanceof UpstreamFault) return error;
  if (error instanceof StreamableHTTPError) return new UpstreamFault(`upstream answered HTTP ${error.code ?? '?'} during ${during}`);
  return new UpstreamFault(`upstream ${during} failed: ${error instanceof Error ? error.message : String(error)}`);
}
