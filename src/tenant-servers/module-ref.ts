import { z } from 'zod';
import type { TenantServerRecord } from './module-store';

/**
 * Which version of a deployed module a request runs: the gate reads the tenant's server row (it
 * must anyway, to answer another tenant's name as unknown) and forwards the active version in an
 * internal header, so the session object needs no D1 read on the hot path and a redeploy or rollback
 * applies to the very next call. Like the principal header, clients cannot send it: the gate strips
 * every `x-smcp-*` header before forwarding.
 */
export const MODULE_HEADER = 'x-smcp-module';

export const ModuleRefSchema = z.object({
  version: z.number().int().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  egress: z.array(z.string()).max(20),
});
export type ModuleRef = z.infer<typeof ModuleRefSchema>;

/** The tenant's active version of a deployed server. */
export function moduleRefOf(record: TenantServerRecord): ModuleRef {
  return { version: record.activeVersion, sha256: record.sha256, egress: record.egress };
}

/** The header value for the tenant's active version. */
export function encodeModuleRef(record: TenantServerRecord): string {
  return JSON.stringify(moduleRefOf(record));
}

/** Parse the header; null for anything malformed (the call is then refused). */
export function decodeModuleRef(value: string | undefined): ModuleRef | null {
  if (!value) return null;
  try {
    const parsed = ModuleRefSchema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
