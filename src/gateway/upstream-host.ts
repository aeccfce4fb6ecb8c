import type { AuditEventInput } from '../audit/audit-event';
import { recordAudit } from '../audit/record';

/** Which upstream a call is about; the state object's name is `<tenant>/<name>`. */
export interface UpstreamKey {
  tenant: string;
  name: string;
}

/** A refusal the state object sends back for the client (a JSON-RPC error code and message). */
export type UpstreamRefusal = { ok: false; code: number; message: string };

/**
 * What the parts of one upstream's state object (`UpstreamState`: its stored breaker, replica
 * fleet and tool catalog) share, so each part can live in its own module without reaching into
 * the Durable Object: the platform's bindings, the object's storage and `waitUntil`, which upstream
 * it serves, and the one way they audit what happened to that upstream.
 */
export class UpstreamHost {
  /** The upstream this object serves: set by its first call (`UpstreamState.load`), null again after a reset. */
  key: UpstreamKey | null = null;

  constructor(
    readonly env: Env,
    readonly ctx: DurableObjectState,
  ) {}

  get storage(): DurableObjectStorage {
    return this.ctx.storage;
  }

  /** Keep work going after the caller's answer (D1 mirrors, saves). */
  later(work: Promise<unknown>): void {
    this.ctx.waitUntil(work);
  }

  /** Audit one event about this upstream (its tenant and name filled in) without delaying the caller. */
  audit(event: Omit<AuditEventInput, 'tenant' | 'server'>): void {
    const key = this.key!;
    this.ctx.waitUntil(recordAudit(this.env, { tenant: key.tenant, server: key.name, ...event }));
  }
}
