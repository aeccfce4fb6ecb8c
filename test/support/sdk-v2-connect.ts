import {
  Client,
  StreamableHTTPClientTransport,
  UnauthorizedError,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type StoredOAuthClientInformation,
  type StoredOAuthTokens,
  type VersionNegotiationMode,
} from '@modelcontextprotocol/client';
import { MemoryOAuthClient } from './oauth-test-client.ts';

/**
 * The official SDK v2 client (`@modelcontextprotocol/client`, the one that speaks MCP 2026-07-28),
 * connected the way a real client is: with OAuth (the SDK meets the 401, discovers, registers by DCR,
 * sends the user to /authorize; we sign in and consent through the real forms and hand the whole
 * callback query, `iss` included, to `finishAuth`; the plumbing is oauth-test-client.ts's) or with an API key header. `fetcher` lets a test
 * watch the exchanges (see `recordingFetch`).
 */
export class V2OAuthProvider extends MemoryOAuthClient<StoredOAuthClientInformation, StoredOAuthTokens> implements OAuthClientProvider {
  private discovery?: OAuthDiscoveryState;

  constructor(account: { email: string; password: string }, redirectUrl = 'http://127.0.0.1:33419/callback') {
    super(account, redirectUrl, 'SMCP e2e SDK v2 client');
  }

  // Kept so the SDK can check the callback came from the authorization server it discovered (SEP-2352).
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery;
  }
}

/** `'legacy'`, `'auto'` or pinned to a revision: the SDK v2 negotiation modes. */
export type Negotiation = VersionNegotiationMode;

export type V2Auth = { provider: V2OAuthProvider } | { apiKey: string };

function transportFor(url: URL, auth: V2Auth, fetcher?: typeof fetch): StreamableHTTPClientTransport {
  const common = fetcher ? { fetch: fetcher } : {};
  return 'provider' in auth
    ? new StreamableHTTPClientTransport(url, { ...common, authProvider: auth.provider })
    : new StreamableHTTPClientTransport(url, { ...common, requestInit: { headers: { authorization: `Bearer ${auth.apiKey}` } } });
}

const newClient = (mode: Negotiation) => new Client({ name: 'smcp-e2e-v2', version: '1.0.0' }, { versionNegotiation: { mode } });

/**
 * Connect an SDK v2 client in `mode`. With OAuth, the first attempt runs the authorization flow
 * (unless the provider already holds a token) and a fresh client connects after `finishAuth`.
 */
export async function connectV2(url: string, mode: Negotiation, auth: V2Auth, fetcher?: typeof fetch): Promise<Client> {
  const endpoint = new URL(url);
  const first = transportFor(endpoint, auth, fetcher);
  const probe = newClient(mode);
  try {
    await probe.connect(first);
    return probe;
  } catch (error) {
    if (!('provider' in auth) || !(error instanceof UnauthorizedError)) throw error;
  }
  if (!auth.provider.callback) throw new Error('authorization did not produce a callback');
  await first.finishAuth(auth.provider.callback);
  const client = newClient(mode);
  await client.connect(transportFor(endpoint, auth, fetcher));
  return client;
}

/** One HTTP exchange the SDK made: method, JSON-RPC method of the body, and the answer's headers. */
export interface Exchange {
  httpMethod: string;
  rpcMethod?: string;
  requestHeaders: Headers;
  status: number;
  responseHeaders: Headers;
}

/** A fetch that records every exchange into `log`, for asserting what crossed the wire. */
export function recordingFetch(log: Exchange[]): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    let rpcMethod: string | undefined;
    if (typeof init?.body === 'string') {
      try {
        rpcMethod = (JSON.parse(init.body) as { method?: string }).method;
      } catch {
        // a form body (OAuth): no JSON-RPC method
      }
    }
    log.push({ httpMethod: init?.method ?? 'GET', rpcMethod, requestHeaders: new Headers(init?.headers), status: res.status, responseHeaders: res.headers });
    return res;
  };
}
