import { TENANT_ID_PATTERN } from '../tenancy/model';
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
    tenantId: string,
  ) {
    if (!TENANT_ID_PATTERN.test(tenantId)) throw new StorageKeyError('invalid tenant id');
    this.prefix = `tenant-${tenantId}/`;
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
