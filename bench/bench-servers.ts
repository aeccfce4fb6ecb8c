import { McpAgent } from 'agents/mcp';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import { HostedMcpAgent, type HostedServerInfo } from '../src/hosted/hosted-mcp-agent';
import { registerTrivialTool } from './trivial-tool';

/**
 * The benchmark's two Durable Object servers. Both serve exactly the trivial tool; only the
 * hosting differs. Bench-only: they are bound in the generated bench config, never in
 * `wrangler.jsonc`.
 */

/** The platform variant: a `HostedMcpAgent`, so every platform hook runs on every request. */
export class BenchPlatformServer extends HostedMcpAgent {
  protected override readonly info: HostedServerInfo = { name: 'bench', version: '1.0.0', capabilities: { tools: {} } };

  protected override register(server: McpServer): void {
    registerTrivialTool(server);
  }
}

/**
 * The unaudited variant: the platform variant's server with its session's audit events dropped,
 * so one run measures what auditing costs (issue 16: audited/unaudited within 1.05×) without a
 * switch in production code. Everything else (guard, owner binding, policy, limits) runs.
 */
export class BenchUnauditedServer extends BenchPlatformServer {
  protected override recordAudit(): void {}
}

/** The bare variant: a plain `McpAgent` as the Agents SDK documents it, no platform code. */
export class BenchBareServer extends McpAgent<Env> {
  server = new McpServer({ name: 'bench', version: '1.0.0' }, { capabilities: { tools: {} }, jsonSchemaValidator: new CfWorkerJsonSchemaValidator() });

  async init(): Promise<void> {
    registerTrivialTool(this.server);
  }
}
