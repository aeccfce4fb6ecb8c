import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { hmacHex, randomHex, safeEqual } from '../crypto/secrets';
import { RpcCode } from '../http/responses';
import { log } from '../observability/log';
import { TenantKv } from '../storage/tenant-kv';
import { ownerKey, tenantNamespace, type Principal } from './principal';
import { refuse } from './request-guard';

/**
 * State handles: the stateless counterpart of the owner-bound session id. A handle is an opaque
 * string a server mints for its caller and the client passes back as an ordinary tool argument.
 *
 * `h_<kind>_<id>.<mac>`: the MAC covers (tenant, principal, server, kind, id) under a key derived
 * from SMCP_SECRET, so the platform knows, before reading any storage, whether the handle was minted
 * for this caller on this server. Another caller's (or tenant's, or server's) handle, and a forged
 * one, are refused with a Forbidden error that the choke point audits as `denied`. The state sits in
 * the caller's tenant KV (`tenant-<id>:handle:<id>`) with an expiration TTL, so KV reclaims it when
 * the handle expires; `release` deletes it at once.
 */

/** KV type of handle records inside the tenant's namespace. */
const KV_TYPE = 'handle';
const HANDLE = /^h_([a-z][a-z0-9-]{0,23})_([0-9a-f]{32})\.([0-9a-f]{32})$/;
/** KV refuses expiration TTLs under 60 s. */
export const MIN_HANDLE_TTL_SECONDS = 60;
export const DEFAULT_HANDLE_TTL_SECONDS = 24 * 3600;
export const MAX_HANDLE_TTL_SECONDS = 7 * 24 * 3600;
/** Largest state behind one handle (JSON, UTF-8). */
export const MAX_HANDLE_STATE_BYTES = 512 * 1024;

interface HandleRecord<T> {
  owner: string;
  server: string;
  kind: string;
  expiresAt: number;
  ttl: number;
  state: T;
}

/** What a server does with handles; bound to the principal and server of the current call. */
export interface HandleStore {
  /** Mint a handle for `state`; it expires `ttlSeconds` after its last write. */
  mint<T>(kind: string, state: T, ttlSeconds?: number): Promise<string>;
  /** The state behind a handle minted for this caller; throws (audited as denied) otherwise. */
  open<T>(handle: string, kind: string): Promise<T>;
  /** Replace the state (and push the expiry back). */
  update<T>(handle: string, kind: string, state: T): Promise<void>;
  /** Delete the state now. */
  release(handle: string, kind: string): Promise<void>;
}

/** Refuses a handle this caller may not use: a JSON-RPC error, audited by the choke point as a denial. */
function refused(principal: Principal, reason: string): never {
  log('warn', 'denied', { reason: `handle ${reason}`, tenant: principal.tenantId, server: principal.server, action: 'handle' });
  return refuse(new McpError(RpcCode.Forbidden, `Access denied: handle ${reason}`));
}

async function mac(secret: string, principal: Principal, kind: string, id: string): Promise<string> {
  return (await hmacHex(secret, `smcp-handle\n${principal.server}\n${ownerKey(principal)}\n${kind}\n${id}`)).slice(0, 32);
}

function clampTtl(ttl: number | undefined): number {
  const value = Math.floor(ttl ?? DEFAULT_HANDLE_TTL_SECONDS);
  return Math.min(MAX_HANDLE_TTL_SECONDS, Math.max(MIN_HANDLE_TTL_SECONDS, Number.isFinite(value) ? value : DEFAULT_HANDLE_TTL_SECONDS));
}

/** The handle store of one call: `principal` is the caller the gate resolved, `kv` the tenant KV binding. */
export function handleStore(kvBinding: KVNamespace, secret: string, principal: Principal): HandleStore {
  const kv = new TenantKv(kvBinding, tenantNamespace(principal));

  async function idOf(handle: unknown, kind: string): Promise<string> {
    const match = typeof handle === 'string' ? HANDLE.exec(handle) : null;
    if (!match || match[1] !== kind) refused(principal, `is not a ${kind} handle`);
    const [, , id, tag] = match as unknown as [string, string, string, string];
    if (!(await safeEqual(await mac(secret, principal, kind, id), tag))) refused(principal, 'was not issued to this caller on this server');
    return id;
  }

  async function write<T>(id: string, kind: string, state: T, ttl: number): Promise<void> {
    const record: HandleRecord<T> = { owner: ownerKey(principal), server: principal.server, kind, expiresAt: Date.now() + ttl * 1000, ttl, state };
    const json = JSON.stringify(record);
    if (new TextEncoder().encode(json).byteLength > MAX_HANDLE_STATE_BYTES)
      throw new McpError(RpcCode.InvalidParams, `Handle state over ${MAX_HANDLE_STATE_BYTES} bytes`);
    await kv.put(KV_TYPE, id, json, { expirationTtl: ttl });
  }

  async function read<T>(id: string, kind: string): Promise<HandleRecord<T>> {
    const raw = await kv.get(KV_TYPE, id);
    const record = raw ? (JSON.parse(raw) as HandleRecord<T>) : null;
    // Defence in depth behind the MAC: the record names its owner too.
    if (!record || record.expiresAt <= Date.now()) throw new McpError(RpcCode.InvalidParams, `Unknown or expired ${kind} handle; open a new one`);
    if (record.owner !== ownerKey(principal) || record.server !== principal.server || record.kind !== kind) refused(principal, 'belongs to another caller');
    return record;
  }

  return {
    async mint(kind, state, ttlSeconds) {
      if (!/^[a-z][a-z0-9-]{0,23}$/.test(kind)) throw new Error('handle kind must match ^[a-z][a-z0-9-]{0,23}$');
      const id = randomHex(16);
      await write(id, kind, state, clampTtl(ttlSeconds));
      return `h_${kind}_${id}.${await mac(secret, principal, kind, id)}`;
    },
    async open(handle, kind) {
      return (await read(await idOf(handle, kind), kind)).state as never;
    },
    async update(handle, kind, state) {
      const id = await idOf(handle, kind);
      const record = await read(id, kind);
      await write(id, kind, state, record.ttl);
    },
    async release(handle, kind) {
      const id = await idOf(handle, kind);
      await read(id, kind);
      await kv.delete(KV_TYPE, id);
    },
  };
}
