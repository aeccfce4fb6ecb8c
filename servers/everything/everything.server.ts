import { defineServer } from '../../src/hosted/author-api';
import { HostedMcpAgent } from '../../src/hosted/hosted-mcp-agent';
import { registerEverythingPrompts } from './everything-prompts';
import { registerEverythingResources } from './everything-resources';
import { registerEverythingTools } from './everything-tools';

/**
 * Everything: the fixtures the official MCP conformance suite expects (tools of every content
 * type, logging, progress, sampling, elicitation, multi-round-trip input, resources, templates,
 * prompts, completion), hosted behind the platform like any other server, in both eras. It proves,
 * with a suite nobody here wrote, that the platform's choke point does not break the protocol.
 */
export const everything = defineServer(
  {
    name: 'smcp-everything',
    version: '1.0.0',
    title: 'Everything',
    instructions: 'Conformance fixtures for the Model Context Protocol.',
  },
  (server) => {
    registerEverythingTools(server);
    registerEverythingResources(server);
    registerEverythingPrompts(server);
  },
);

/** The everything server: one definition, served by sessions (this class) and statelessly. */
export class EverythingServer extends HostedMcpAgent {
  static override readonly definition = everything;
}
