import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Principal } from './principal';
import type { Role } from '../tenancy/model';

/**
 * Which principal may call which tool. Policy comes from the tool's own definition, so a server
 * author states it once where the tool is registered: MCP's `readOnlyHint` annotation, or an
 * explicit minimum role in `_meta["smcp/minRole"]`.
 */

export const MIN_ROLE_META = 'smcp/minRole';

const RANK: Record<Role, number> = { 'read-only': 0, member: 1, admin: 2 };

/** The parts of a registered tool the policy reads. */
export interface ToolPolicySource {
  annotations?: { readOnlyHint?: boolean };
  _meta?: Record<string, unknown>;
}

/** The least role that may call the tool: explicit `smcp/minRole`, else read-only tools for everyone, else member. */
export function minRoleFor(tool: ToolPolicySource): Role {
  const explicit = tool._meta?.[MIN_ROLE_META];
  if (explicit === 'admin' || explicit === 'member' || explicit === 'read-only') return explicit;
  return tool.annotations?.readOnlyHint === true ? 'read-only' : 'member';
}

/** Null when allowed, else the reason the call is refused (sent back to the client). */
export function denyReason(principal: Principal, toolName: string, tool: ToolPolicySource | undefined): string | null {
  if (!tool) return null; // unknown tools get the SDK's own "not found" error
  const needed = minRoleFor(tool);
  if (RANK[principal.role] >= RANK[needed]) return null;
  return needed === 'member'
    ? `Permission denied: role "${principal.role}" may only call tools annotated readOnlyHint; "${toolName}" is not`
    : `Permission denied: tool "${toolName}" requires role "${needed}", caller has "${principal.role}"`;
}

interface McpServerInternals {
  _registeredTools: Record<string, ToolPolicySource & { _meta?: Record<string, unknown> }>;
}

/** The policy source of a tool registered on an SDK v1 server (`registerTool`), or undefined for an unknown name. */
export function registeredToolPolicy(server: McpServer, name: string): ToolPolicySource | undefined {
  const tools = (server as unknown as McpServerInternals)._registeredTools;
  return Object.hasOwn(tools, name) ? tools[name] : undefined;
}
