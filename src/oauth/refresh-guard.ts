import { DurableObject } from 'cloudflare:workers';

/** How long a rotated-out refresh token still gets the answer its first use got (concurrent refreshes, retries). */
export const REUSE_GRACE_MS = 60_000;
/** Rotations are remembered this long (the provider's refresh tokens live 30 days). */
const REMEMBER_MS = 31 * 86_400_000;
/** A refresh in flight longer than this is presumed lost; waiting callers then decide for themselves. */
const IN_FLIGHT_MS = 15_000;

interface Rotation {
  /** When the token was rotated out (ms). */
  at: number;
  /** The answer its rotation got, sealed with a key only the token's holder can derive; dropped after the grace. */
  sealed?: string;
}

/** What the Worker should do with a refresh token (identified by a hash, never the token itself). */
export type RefreshVerdict = { kind: 'proceed' } | { kind: 'replay'; sealed: string } | { kind: 'reuse'; rotatedAt: number };

/**
 * One object per OAuth grant (`<userId>:<grantId>`) that serialises its refreshes and remembers
 * which refresh tokens were rotated out (RFC 9700 refresh-token rotation with reuse detection).
 * A refresh of a token already in flight waits for it; a token rotated out less than the grace ago
 * gets the same answer as its first use (so two concurrent refreshes both end with working tokens);
 * a token rotated out longer ago is a reuse, and the Worker revokes the grant.
 */
export class RefreshGuard extends DurableObject<Env> {
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly release = new Map<string, () => void>();

  /** The verdict for token `id`; `proceed` also marks it in flight until `finish(id)`. */
  async begin(id: string): Promise<RefreshVerdict> {
    const pending = this.inFlight.get(id);
    if (pending) await Promise.race([pending, new Promise((r) => setTimeout(r, IN_FLIGHT_MS))]);
    const rotation = await this.ctx.storage.get<Rotation>(`r:${id}`);
    if (rotation) {
      if (rotation.sealed && Date.now() - rotation.at <= REUSE_GRACE_MS) return { kind: 'replay', sealed: rotation.sealed };
      return { kind: 'reuse', rotatedAt: rotation.at };
    }
    let done!: () => void;
    this.inFlight.set(id, new Promise<void>((resolve) => (done = resolve)));
    this.release.set(id, done);
    return { kind: 'proceed' };
  }

  /** The refresh of `id` ended: `sealed` is its successful answer (the token is rotated out), null on failure. */
  async finish(id: string, sealed: string | null): Promise<void> {
    if (sealed !== null) {
      await this.ctx.storage.put<Rotation>(`r:${id}`, { at: Date.now(), sealed });
      if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + REUSE_GRACE_MS + 1000);
    }
    this.release.get(id)?.();
    this.release.delete(id);
    this.inFlight.delete(id);
  }

  /** Drop sealed answers past the grace, and rotations older than any refresh token can be. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    let next: number | null = null;
    for (const [key, rotation] of await this.ctx.storage.list<Rotation>({ prefix: 'r:' })) {
      if (now - rotation.at > REMEMBER_MS) await this.ctx.storage.delete(key);
      else if (rotation.sealed && now - rotation.at > REUSE_GRACE_MS) await this.ctx.storage.put<Rotation>(key, { at: rotation.at });
      else if (rotation.sealed) next = Math.min(next ?? Infinity, rotation.at + REUSE_GRACE_MS + 1000);
    }
    if (next !== null) await this.ctx.storage.setAlarm(next);
    else if ((await this.ctx.storage.list({ prefix: 'r:', limit: 1 })).size > 0) await this.ctx.storage.setAlarm(now + REMEMBER_MS);
  }
}
