import { keyringFrom, open, seal } from '../crypto/sealed-secrets';
import { credentialContext, CredentialsSchema, type Credentials } from './upstream-model';
import { privateUpstreamsAllowed, upstreamUrlProblem } from './upstream-url';

/** Seal credentials for storage on the tenant's upstream row. */
export async function sealCredentials(env: Env, tenantId: string, name: string, creds: Credentials): Promise<string> {
  return seal(await keyringFrom(env), JSON.stringify(creds), credentialContext(tenantId, name));
}

/** Open stored credentials (throws SealError/KeyringError when they cannot be opened). */
export async function openCredentials(env: Env, tenantId: string, name: string, sealed: string): Promise<Credentials> {
  return CredentialsSchema.parse(JSON.parse(await open(await keyringFrom(env), sealed, credentialContext(tenantId, name))));
}

/** Raised when an OAuth client-credentials token cannot be obtained. */
export class CredentialError extends Error {}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/**
 * Turns credentials into request headers. OAuth client-credentials tokens are fetched from the
 * token endpoint and cached until shortly before they expire, so one upstream's sessions share one
 * token fetch per lifetime (the cache lives in the upstream's state object).
 */
export class CredentialHeaders {
  private cached: CachedToken | null = null;

  constructor(
    private readonly env: Env,
    private readonly creds: Credentials | null,
    private readonly timeoutMs: number,
  ) {}

  /** Headers to send with every upstream request. */
  async headers(): Promise<Record<string, string>> {
    const c = this.creds;
    if (!c) return {};
    if (c.kind === 'bearer') return { authorization: `Bearer ${c.token}` };
    if (c.kind === 'header') return { [c.name]: c.value };
    return { authorization: `Bearer ${await this.clientCredentialsToken(c)}` };
  }

  /** Forget a cached token (after the upstream answered 401). */
  invalidate(): void {
    this.cached = null;
  }

  private async clientCredentialsToken(c: Extract<Credentials, { kind: 'oauth-client-credentials' }>): Promise<string> {
    if (this.cached && this.cached.expiresAt > Date.now() + 30_000) return this.cached.token;
    const problem = upstreamUrlProblem(c.tokenUrl, privateUpstreamsAllowed(this.env));
    if (problem) throw new CredentialError(`OAuth token URL refused: ${problem}`);
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (c.scope) body.set('scope', c.scope);
    if (c.audience) body.set('audience', c.audience);
    const res = await fetch(c.tokenUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorization: `Basic ${btoa(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`)}`,
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(this.timeoutMs),
    }).catch((e: unknown) => {
      throw new CredentialError(`OAuth token endpoint unreachable: ${e instanceof Error ? e.message : String(e)}`);
    });
    const text = await res.text();
    if (!res.ok) throw new CredentialError(`OAuth token endpoint answered ${res.status}`);
    let parsed: { access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new CredentialError('OAuth token endpoint answered malformed JSON');
    }
    if (typeof parsed.access_token !== 'string' || !parsed.access_token) throw new CredentialError('OAuth token endpoint answered without access_token');
    const ttl = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in * 1000 : 300_000;
    this.cached = { token: parsed.access_token, expiresAt: Date.now() + ttl };
    return parsed.access_token;
  }
}
