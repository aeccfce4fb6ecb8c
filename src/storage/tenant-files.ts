import { STORAGE_NAMESPACE_PATTERN } from '../tenancy/model';
import { StorageKeyError } from './tenant-kv';

const MAX_PATH = 1024;

/** One listed object, with its path relative to the tenant's prefix. */
export interface TenantObjectInfo {
  path: string;
  size: number;
  uploaded: string;
}

/** Check a relative object path: no empty, `.` or `..` segments, no leading slash, no backslashes or control characters. */
export function checkObjectPath(path: string): void {
  if (path.length === 0 || path.length > MAX_PATH) throw new StorageKeyError(`path must be 1-${MAX_PATH} characters`);
  if (path.startsWith('/') || path.includes('\\') || /[\u0000-\u001f\u007f]/.test(path)) {
    throw new StorageKeyError('path must be relative, without backslashes or control characters');
  }
  if (path.split('/').some((seg) => seg === '' || seg === '.' || seg === '..')) throw new StorageKeyError('path must not contain empty, "." or ".." segments');
}

/**
 * R2 access confined to one tenant: every object lives under `tenant-<id>/`, paths are checked
 * before they are joined, and listings strip the prefix. The tenant part is fixed at construction.
 */
export class TenantFiles {
  private readonly prefix: string;

  constructor(
    private readonly bucket: R2Bucket,
    /** The tenant's storage namespace (`storageNamespace(tenantId, generation)`), never input. */
    namespace: string,
  ) {
    if (!STORAGE_NAMESPACE_PATTERN.test(namespace)) throw new StorageKeyError('invalid tenant id');
    this.prefix = `tenant-${namespace}/`;
  }

  /** The full object key for a relative path. */
  key(path: string): string {
    checkObjectPath(path);
    return this.prefix + path;
  }

  get(path: string): Promise<R2ObjectBody | null> {
    return this.bucket.get(this.key(path));
  }

  put(path: string, value: ReadableStream | ArrayBuffer | ArrayBufferView | string, options?: R2PutOptions): Promise<R2Object> {
    return this.bucket.put(this.key(path), value, options);
  }

  delete(path: string): Promise<void> {
    return this.bucket.delete(this.key(path));
  }

  /** Delete every object of the namespace, at most `budget` per call (see TenantKv.purge). True when none is left. */
  async purge(budget = 1000): Promise<boolean> {
    for (let deleted = 0; deleted < budget;) {
      const res = await this.bucket.list({ prefix: this.prefix, limit: Math.min(1000, budget - deleted) });
      if (res.objects.length > 0) await this.bucket.delete(res.objects.map((o) => o.key));
      deleted += res.objects.length;
      if (!res.truncated) return true;
    }
    return false;
  }

  /**
   * Relative paths (and sizes) under an optional directory prefix (which must end in `/` or be
   * empty). A cursor from another tenant's listing cannot widen this one: R2 still filters by prefix.
   */
  async list(opts: { dir?: string; limit?: number; cursor?: string } = {}): Promise<{ paths: string[]; objects: TenantObjectInfo[]; cursor?: string }> {
    const dir = opts.dir ?? '';
    if (dir !== '' && !dir.endsWith('/')) throw new StorageKeyError('dir must end with "/"');
    if (dir !== '') checkObjectPath(dir.slice(0, -1));
    const res = await this.bucket.list({ prefix: this.prefix + dir, limit: opts.limit, cursor: opts.cursor });
    const objects = res.objects.map((o) => ({ path: o.key.slice(this.prefix.length), size: o.size, uploaded: o.uploaded.toISOString() }));
    return { paths: objects.map((o) => o.path), objects, cursor: res.truncated ? res.cursor : undefined };
  }
}
