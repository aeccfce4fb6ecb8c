/**
 * The hosted-server registry: the one list that the Worker entry, `wrangler.jsonc` (Durable Object
 * bindings and migrations) and the exported classes must agree on. `test/registry-agreement`
 * fails, naming what to add, when they drift. Pure data, so Node-side tools can import it too.
 */
export interface HostedServerEntry {
  /** URL segment: the server lives at `/servers/<name>/mcp` and `/servers/<name>/sse`. */
  readonly name: string;
  /** Durable Object binding in `wrangler.jsonc`. */
  readonly binding: string;
  /** Exported class name (a `HostedMcpAgent` subclass). */
  readonly className: string;
  /** Shown on the consent page and in discovery metadata. */
  readonly title: string;
}

export const SERVERS: readonly HostedServerEntry[] = [
  { name: 'notes', binding: 'NOTES_SERVER', className: 'NotesServer', title: 'Notes' },
  { name: 'everything', binding: 'EVERYTHING_SERVER', className: 'EverythingServer', title: 'Everything (MCP conformance fixtures)' },
  { name: 'storage', binding: 'STORAGE_SERVER', className: 'StorageServer', title: 'Tenant storage' },
];

/** Server names must be URL-safe slugs so they can be matched exactly in paths. */
export const SERVER_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

/** Look up a server by its URL name; `undefined` for anything not registered. */
export function findServer(name: string): HostedServerEntry | undefined {
  return SERVERS.find((s) => s.name === name);
}
