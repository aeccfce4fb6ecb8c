import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { RpcCode } from '../http/responses';
import { log } from '../observability/log';
import { ownerKey, type Principal } from './principal';

const OWNER_KEY = 'smcp:owner';

/**
 * The owner binding of one session: the first request's principal (tenant, user or key, OAuth
 * client) is stored in the session object, and any other principal is answered "Session not
 * found". Defence in depth behind the gate's signed, owner-bound session ids.
 */
export class SessionOwner {
  private owner: string | null | undefined;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** Bind the session to `principal` on its first request; refuse anyone else afterwards. */
  async bind(principal: Principal): Promise<void> {
    const key = ownerKey(principal);
    if (this.owner === undefined) this.owner = (await this.storage.get<string>(OWNER_KEY)) ?? null;
    if (this.owner === null) {
      await this.storage.put(OWNER_KEY, key);
      this.owner = key;
    } else if (this.owner !== key) {
      log('warn', 'denied', { reason: 'session owned by another principal', tenant: principal.tenantId, principal: key, server: principal.server });
      throw new McpError(RpcCode.SessionNotFound, 'Session not found');
    }
  }

  /** The owner's tenant, once bound (undefined for a session that never served a request). */
  async tenant(): Promise<string | undefined> {
    const owner = this.owner ?? (await this.storage.get<string>(OWNER_KEY));
    // The first segment is `tenant` or `tenant#generation` (a tenant id created again after deletion).
    return owner?.split('|')[0]?.split('#')[0];
  }
}
