import { STORAGE_NAMESPACE_PATTERN } from '../tenancy/model';

const TYPE_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
const MAX_ID = 480;

/** Thrown for a tenant, type or id that could not be namespaced safely. */
export class StorageKeyError extends Error {}

function checkId(id: string): void {
  if (id.length === 0 || id.length > MAX_ID || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new StorageKeyError(`storage id must be 1-${MAX_ID} characters without control characters`);
  }
}

/**
 * KV access confined to one tenant: every key is `tenant-<id>:<type>:<id>`, built here and nowhere
 * else, and listing strips the prefix again. A server author holding a TenantKv cannot name
 * another tenant's key, because the tenant part is fixed at construction from the principal.
 */
export class TenantKv {
  private readonly prefix: string;

  constructor(
    private readonly kv: KVNamespace,
    /** The tenant's storage namespace (`storageNamespace(tenantId, generation)`), never input. */
    namespace: string,
  ) {
    if (!STORAGE_NAMESPACE_PATTERN.test(namespace)) throw new StorageKeyError('invalid tenant id');
    this.prefix = `tenant-${namespace}:`;
  }

  /** The full KV key for a type and id. */
  key(type: string, id: string): string {
    if (!TYPE_PATTERN.test(type)) throw new StorageKeyError('storage type must match ^[a-z][a-z0-9-]{0,31}$');
    checkId(id);
    return `${this.prefix}${type}:${id}`;
  }

  get(type: string, id: string): Promise<string | null> {
    return this.kv.get(this.key(type, id));
  }

  put(type: string, id: string, value: string, options?: KVNamespacePutOptions): Promise<void> {
    return this.kv.put(this.key(type, id), value, options);
  }

  delete(type: string, id: string): Promise<void> {
    return this.kv.delete(this.key(type, id));
  }

  /**
   * Delete every key of the namespace, at most `budget` of them per call (the purge of a deleted
   * tenant; the daily cron continues it). True when no key is left.
   */
  async purge(budget = 1000): Promise<boolean> {
    let cursor: string | undefined;
    for (let deleted = 0; deleted < budget;) {
      const res = await this.kv.list({ prefix: this.prefix, limit: Math.min(1000, budget - deleted), cursor });
      await Promise.all(res.keys.map((k) => this.kv.delete(k.name)));
      deleted += res.keys.length;
      if (res.list_complete) return true;
      cursor = res.cursor;
    }
    return false;
  }

  /** Ids of one type (optionally starting with `idPrefix`), without the tenant prefix. */
  async list(type: string, opts: { idPrefix?: string; limit?: number; cursor?: string } = {}): Promise<{ ids: string[]; cursor?: string }> {
    const base = this.key(type, 'x').slice(0, -1);
    const res = await this.kv.list({ prefix: base + (opts.idPrefix ?? ''), limit: opts.limit, cursor: opts.cursor });
    return { ids: res.keys.map((k) => k.name.slice(base.length)), cursor: res.list_complete ? undefined : res.cursor };
  }
}
