import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { HostedMcpAgent, type HostedServerInfo } from '../../src/hosted/hosted-mcp-agent';
import { registerFileTools } from './storage-file-tools';
import { registerKvTools } from './storage-kv-tools';
import { registerSqlTool } from './storage-sql-tool';

/**
 * Storage: each tenant's own key-value store (KV under `tenant-<id>:kv:`), files (R2 under
 * `tenant-<id>/`) and SQL database (a `TenantDatabase` Durable Object per tenant). The platform's
 * reference for storage namespacing: every tool reaches storage only through helpers bound to the
 * principal of the call, so no argument can name another tenant.
 */
export class StorageServer extends HostedMcpAgent {
  protected readonly info: HostedServerInfo = {
    name: 'smcp-storage',
    version: '1.0.0',
    title: 'Tenant storage',
    instructions: "Your tenant's own storage: kv_* for small values, files_* for files, sql_query for a SQLite database.",
    capabilities: { tools: { listChanged: true } },
  };

  protected register(server: McpServer): void {
    registerKvTools(server, () => this.tenantKv());
    registerFileTools(server, () => this.tenantFiles());
    registerSqlTool(server, this.env, () => this.principal());
  }
}
