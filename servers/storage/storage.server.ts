import { defineServer } from '../../src/hosted/author-api';
import { HostedMcpAgent } from '../../src/hosted/hosted-mcp-agent';
import { registerFileTools } from './storage-file-tools';
import { registerKvTools } from './storage-kv-tools';
import { registerSqlTool } from './storage-sql-tool';

/**
 * Storage: each tenant's own key-value store (KV under `tenant-<id>:kv:`), files (R2 under
 * `tenant-<id>/`) and SQL database (a `TenantDatabase` Durable Object per tenant). The platform's
 * reference for storage namespacing: every tool reaches storage only through the platform call of
 * the request (`call.kv()`, `call.files()`, `call.tenantDatabase()`), bound to its principal, so no
 * argument can name another tenant. Nothing here is per session, so both eras see the same data.
 */
export const storage = defineServer(
  {
    name: 'smcp-storage',
    version: '1.0.0',
    title: 'Tenant storage',
    instructions: "Your tenant's own storage: kv_* for small values, files_* for files, sql_query for a SQLite database.",
    capabilities: { tools: { listChanged: true } },
  },
  (server) => {
    registerKvTools(server);
    registerFileTools(server);
    registerSqlTool(server);
  },
);

/** The storage server: one definition, served by sessions (this class) and statelessly. */
export class StorageServer extends HostedMcpAgent {
  static override readonly definition = storage;
}
