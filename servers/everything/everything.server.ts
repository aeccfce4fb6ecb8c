import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { HostedMcpAgent, type HostedServerInfo } from '../../src/hosted/hosted-mcp-agent';
import { registerEverythingPrompts } from './everything-prompts';
import { registerEverythingResources } from './everything-resources';
import { registerEverythingTools } from './everything-tools';

/**
 * Everything: the fixtures the official MCP conformance suite expects (tools of every content
 * type, logging, progress, sampling, elicitation, resources, templates, prompts, completion),
 * hosted behind the platform like any other server. It proves, with a suite nobody here wrote,
 * that the platform's choke point does not break the protocol.
 */
export class EverythingServer extends HostedMcpAgent {
  protected readonly info: HostedServerInfo = {
    name: 'smcp-everything',
    version: '1.0.0',
    title: 'Everything',
    instructions: 'Conformance fixtures for the Model Context Protocol.',
  };

  protected register(server: McpServer): void {
    registerEverythingTools(server);
    registerEverythingResources(server);
    registerEverythingPrompts(server);
  }
}
