/**
 * What is serving: the build label set at deploy time (`--var SMCP_BUILD:$(git rev-parse --short HEAD)`,
 * docs/deploy.md) and, when the Worker has a `version_metadata` binding, Cloudflare's id and tag of
 * the running Worker version. `/health` and the dashboard footer both report it, so an operator can
 * tell which build answers after a deploy, a gradual rollout or a rollback. A leaf: no imports.
 */
export interface BuildInfo {
  /** The deploy-time build label (a git commit), or null when unset or not a plain label. */
  build: string | null;
  /** Cloudflare's Worker version, or null outside a deployment with the binding. */
  version: { id: string; tag: string | null; timestamp: string | null } | null;
}

/** A build label is shown on public pages, so only short plain labels are reported. */
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

interface VersionMetadataLike {
  id?: unknown;
  tag?: unknown;
  timestamp?: unknown;
}

/** Read the build label and version metadata from the Worker's bindings (both optional). */
export function buildInfo(env: { SMCP_BUILD?: string; CF_VERSION_METADATA?: VersionMetadataLike } | undefined): BuildInfo {
  const label = env?.SMCP_BUILD;
  const meta = env?.CF_VERSION_METADATA;
  const plain = (v: unknown) => (typeof v === 'string' && LABEL.test(v) ? v : null);
  const id = plain(meta?.id);
  return {
    build: plain(label),
    version: id ? { id, tag: plain(meta?.tag), timestamp: typeof meta?.timestamp === 'string' && meta.timestamp ? meta.timestamp.slice(0, 40) : null } : null,
  };
}

/** One line for a page footer: `build 1a2b3c4 · version 0f1e2d3c (tag)`. */
export function buildLabel(info: BuildInfo): string {
  const parts = [`build ${info.build ?? 'unknown'}`];
  if (info.version) parts.push(`version ${info.version.id.slice(0, 8)}${info.version.tag ? ` (${info.version.tag})` : ''}`);
  return parts.join(' · ');
}
