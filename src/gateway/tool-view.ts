import type { PinStatus } from './tool-pins';
import { overrideRole, type UpstreamPolicy } from './upstream-model';
import { MIN_ROLE_META } from '../hosted/tool-policy';

/** An upstream tool as the state object caches it: the definition, its hash and its pin status. */
export interface CachedTool {
  definition: {
    name: string;
    description?: string;
    inputSchema: unknown;
    annotations?: Record<string, unknown>;
    _meta?: Record<string, unknown>;
    [key: string]: unknown;
  };
  hash: string;
  pin: PinStatus;
}

/** A tool as a tenant's callers see it. */
export interface ExposedTool {
  /** Name clients use (after prefix and renames). */
  name: string;
  /** Name the upstream knows. */
  upstreamName: string;
  pin: PinStatus;
  /** What tools/list returns (renamed, with the platform's role override in `_meta`). */
  definition: Record<string, unknown>;
  annotations?: { readOnlyHint?: boolean; idempotentHint?: boolean };
  _meta?: Record<string, unknown>;
}

/**
 * Apply the tenant's policy to the upstream's tools: allowlist or denylist (by upstream name),
 * renames or a prefix, and per-tool minimum roles (which the choke point enforces like any hosted
 * tool's `smcp/minRole`). Tools whose exposed names collide keep the first and drop the rest.
 */
export function exposeTools(tools: CachedTool[], policy: UpstreamPolicy): ExposedTool[] {
  const out: ExposedTool[] = [];
  const seen = new Set<string>();
  for (const { definition, pin } of tools) {
    const upstreamName = definition.name;
    if (policy.allow && !policy.allow.includes(upstreamName)) continue;
    if (policy.deny?.includes(upstreamName)) continue;
    const renamed = policy.renames && Object.hasOwn(policy.renames, upstreamName) ? policy.renames[upstreamName]! : `${policy.prefix ?? ''}${upstreamName}`;
    if (seen.has(renamed)) continue;
    seen.add(renamed);
    const role = overrideRole(policy, upstreamName);
    const meta = { ...(definition._meta ?? {}) };
    delete meta[MIN_ROLE_META]; // an upstream cannot set its own permission level
    if (role) meta[MIN_ROLE_META] = role;
    const annotations = definition.annotations as ExposedTool['annotations'];
    const exposed = { ...definition, name: renamed, _meta: Object.keys(meta).length ? meta : undefined };
    out.push({ name: renamed, upstreamName, pin, definition: exposed, annotations, _meta: exposed._meta });
  }
  return out;
}
