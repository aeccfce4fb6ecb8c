import { WorkerEntrypoint } from 'cloudflare:workers';
import { z } from 'zod';
import { fetchWithTimeout } from '../http/fetch-with-timeout';
import { readBounded } from '../http/bounded-body';
import { privateUpstreamsAllowed, upstreamUrlProblem } from '../gateway/upstream-url';
import { TenantFiles } from '../storage/tenant-files';
import { TenantKv } from '../storage/tenant-kv';

/**
 * The only bindings a tenant's sandbox gets: `WorkerEntrypoint` classes of the platform, handed to
 * the isolate as stubs created with `ctx.exports.<Class>({ props })`. The tenant is in the props,
 * which the platform fixes when it creates the stub and the sandbox can neither read nor change; every
 * argument is checked with zod, and storage goes through the same confinement as hosted servers
 * (src/storage/tenant-kv.ts, tenant-files.ts). A module's values live beside the `storage` server's
 * (KV type `kv`, files under the tenant's prefix), so a tenant can inspect them with that server.
 */

/** Props of every capability: whose data it reaches. Set by the platform, never by the sandbox. */
export interface CapabilityProps {
  /** The tenant's storage namespace (`tenantNamespace(principal)`: tenant id and incarnation). */
  namespace: string;
}

/** Limits of the capability stubs, stated once for the code, the docs and the tests. */
export const CAPABILITY_LIMITS = {
  valueBytes: 128 * 1024,
  fileBytes: 512 * 1024,
  listPage: 1000,
  egressResponseBytes: 1024 * 1024,
  egressTimeoutMs: 10_000,
} as const;

const KV_TYPE = 'kv';
const Key = z.string().min(1).max(480);
const Path = z.string().min(1).max(1024);
const KvPutOptions = z
  .object({ expirationTtl: z.number().int().min(60).optional() })
  .strict()
  .optional();
const ListOptions = z
  .object({
    prefix: z.string().max(480).optional(),
    dir: z.string().max(1024).optional(),
    limit: z.number().int().min(1).max(CAPABILITY_LIMITS.listPage).optional(),
    cursor: z.string().max(4096).optional(),
  })
  .strict()
  .optional();

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new TypeError(`${what}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

function textWithin(value: unknown, max: number, what: string): string {
  if (typeof value !== 'string') throw new TypeError(`${what} must be a string`);
  const bytes = new TextEncoder().encode(value).byteLength;
  if (bytes > max) throw new RangeError(`${what} is ${bytes} bytes; the limit is ${max}`);
  return value;
}

/** `ctx.kv` in a tenant module: the tenant's KV, keys `tenant-<id>:kv:<key>`. */
export class TenantKvCapability extends WorkerEntrypoint<Env, CapabilityProps> {
  private kv(): TenantKv {
    return new TenantKv(this.env.DATA_KV, this.ctx.props.namespace);
  }
  get(key: unknown): Promise<string | null> {
    return this.kv().get(KV_TYPE, parse(Key, key, 'key'));
  }
  async put(key: unknown, value: unknown, options?: unknown): Promise<void> {
    await this.kv().put(KV_TYPE, parse(Key, key, 'key'), textWithin(value, CAPABILITY_LIMITS.valueBytes, 'value'), parse(KvPutOptions, options, 'options'));
  }
  async delete(key: unknown): Promise<void> {
    await this.kv().delete(KV_TYPE, parse(Key, key, 'key'));
  }
  async list(options?: unknown): Promise<{ keys: string[]; cursor: string | null }> {
    const o = parse(ListOptions, options, 'options') ?? {};
    const page = await this.kv().list(KV_TYPE, { idPrefix: o.prefix, limit: o.limit, cursor: o.cursor });
    return { keys: page.ids, cursor: page.cursor ?? null };
  }
}

/** `ctx.files` in a tenant module: the tenant's R2 objects under `tenant-<id>/`, as text. */
export class TenantFilesCapability extends WorkerEntrypoint<Env, CapabilityProps> {
  private files(): TenantFiles {
    return new TenantFiles(this.env.FILES, this.ctx.props.namespace);
  }
  async get(path: unknown): Promise<string | null> {
    const object = await this.files().get(parse(Path, path, 'path'));
    if (!object) return null;
    if (object.size > CAPABILITY_LIMITS.fileBytes) throw new RangeError(`file is ${object.size} bytes; the limit is ${CAPABILITY_LIMITS.fileBytes}`);
    return object.text();
  }
  async put(path: unknown, text: unknown): Promise<void> {
    await this.files().put(parse(Path, path, 'path'), textWithin(text, CAPABILITY_LIMITS.fileBytes, 'file'));
  }
  async delete(path: unknown): Promise<void> {
    await this.files().delete(parse(Path, path, 'path'));
  }
  async list(options?: unknown): Promise<{ paths: string[]; cursor: string | null }> {
    const o = parse(ListOptions, options, 'options') ?? {};
    const page = await this.files().list({ dir: o.dir, limit: o.limit, cursor: o.cursor });
    return { paths: page.paths, cursor: page.cursor ?? null };
  }
}

/** Props of the egress gate: the tenant and the hostnames it granted this server. */
export interface EgressProps {
  tenantId: string;
  server: string;
  allow: string[];
}

/**
 * The sandbox's `globalOutbound` when the tenant granted its server an egress allowlist (otherwise
 * it is `null` and `fetch` fails). Only listed hostnames, only URLs the gateway's outbound rules
 * accept (src/gateway/upstream-url.ts: public https in production), no redirects followed, a
 * deadline on the answer and a size cap on the body.
 */
export class EgressGate extends WorkerEntrypoint<Env, EgressProps> {
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const refuse = (why: string) => new Response(`SMCP egress refused: ${why}`, { status: 403, headers: { 'content-type': 'text/plain' } });
    if (!this.ctx.props.allow.includes(url.hostname)) return refuse(`"${url.hostname}" is not in this server's egress allowlist`);
    const problem = upstreamUrlProblem(url.href, privateUpstreamsAllowed(this.env));
    if (problem) return refuse(problem);
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await readBounded(request, CAPABILITY_LIMITS.egressResponseBytes);
    if (body === 'too_large') return refuse('request body too large');
    const answer = await fetchWithTimeout(
      url.href,
      { method: request.method, headers: request.headers, body, redirect: 'manual' },
      CAPABILITY_LIMITS.egressTimeoutMs,
    );
    // readBounded reads only `headers` and `body`, which a Response has as a Request does.
    const bytes = await readBounded(answer as unknown as Request, CAPABILITY_LIMITS.egressResponseBytes);
    if (bytes === 'too_large') return refuse(`response larger than ${CAPABILITY_LIMITS.egressResponseBytes} bytes`);
    return new Response(bytes, { status: answer.status, headers: answer.headers });
  }
}
