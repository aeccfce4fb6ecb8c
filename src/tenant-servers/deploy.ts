import { z } from 'zod';
import { SERVER_NAME_PATTERN } from '../../servers/registry';
import { publicOrigin } from '../config';
import { randomHex, sha256, toHex } from '../crypto/secrets';
import { privateUpstreamsAllowed, upstreamUrlProblem } from '../gateway/upstream-url';
import { nameConflict } from '../tenancy/server-names';
import { MAX_MODULE_BYTES, meterModule, ModuleProblem } from './module-meter';
import { activateVersion, getTenantServer, insertVersion, type TenantServerRecord } from './module-store';
import { describeModule } from './sandbox';
import { inputSchemaProblem } from './schema-check';

/**
 * Deploying a tenant module: checks in platform code (name, size, syntax, no imports), metering,
 * then one load in a throwaway sandbox (no bindings, no network) to read the export's shape, and only
 * then a new stored version that becomes active. Any refusal leaves the running version untouched.
 * Shared by the admin API and the dashboard.
 */

const Hostname = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, 'egress entries are lowercase hostnames, e.g. api.example.com');

export const DeployInput = z.strictObject({
  /** The ES module source. Its byte limit (MAX_MODULE_BYTES) is checked after parsing, with a clearer message. */
  module: z.string().min(1),
  title: z.string().trim().min(1).max(200).optional(),
  description: z.string().trim().max(2000).optional(),
  /** Hostnames the module may fetch (through the egress gate); omitted keeps the current list, [] removes network access. */
  egress: z.array(Hostname).max(20).optional(),
});
export type DeployInput = z.infer<typeof DeployInput>;

export const RollbackInput = z.strictObject({ version: z.number().int().min(1) });

/** Largest deploy request body: the module as JSON text (escaping can double it) plus the other fields. */
export const MAX_DEPLOY_BODY_BYTES = 2 * MAX_MODULE_BYTES + 16 * 1024;

/** A refusal with its HTTP status, machine code and message. */
export interface DeployRefusal {
  status: 400 | 404 | 409;
  code: string;
  message: string;
}

/** Deploy a new version of `name` for `tenantId`; the record with its new active version, or why not. */
export async function deployModule(env: Env, tenantId: string, name: string, input: DeployInput): Promise<TenantServerRecord | DeployRefusal> {
  if (!SERVER_NAME_PATTERN.test(name)) return { status: 400, code: 'invalid_name', message: `server names match ${SERVER_NAME_PATTERN}` };
  const conflict = await nameConflict(env.DB, tenantId, name, 'module');
  if (conflict) return { status: 409, code: 'conflict', message: conflict };
  for (const host of input.egress ?? []) {
    const problem = upstreamUrlProblem(`https://${host}/`, privateUpstreamsAllowed(env));
    if (problem) return { status: 400, code: 'egress_refused', message: `egress "${host}": ${problem}` };
  }
  const meterName = `__smcp_meter_${randomHex(8)}`;
  let compiled: string;
  try {
    compiled = meterModule(input.module, meterName);
  } catch (error) {
    if (error instanceof ModuleProblem) return { status: 400, code: error.code, message: error.message };
    throw error;
  }
  const digest = toHex(await sha256(input.module));
  const described = await describeModule(env.LOADER, {
    id: `validate:${tenantId}/${name}/${digest}/${meterName}`,
    compiled: async () => compiled,
    env: {},
    globalOutbound: null,
  });
  if ('problem' in described) return { status: 400, code: 'bad_export', message: described.problem };
  for (const tool of described.tools) {
    const problem = inputSchemaProblem(tool.inputSchema, `tool "${tool.name}"`);
    if (problem) return { status: 400, code: 'bad_schema', message: problem };
  }
  await insertVersion(env.DB, tenantId, name, {
    source: input.module,
    compiled,
    sha256: digest,
    size: new TextEncoder().encode(input.module).byteLength,
    tools: described.tools.map((t) => t.name),
    title: input.title,
    description: input.description,
    egress: input.egress,
  });
  return (await getTenantServer(env.DB, tenantId, name))!;
}

/** Make an earlier (or later) stored version active again. */
export async function rollbackModule(env: Env, tenantId: string, name: string, version: number): Promise<TenantServerRecord | DeployRefusal> {
  if (!(await getTenantServer(env.DB, tenantId, name))) return { status: 404, code: 'not_found', message: 'Server not found' };
  if (!(await activateVersion(env.DB, tenantId, name, version)))
    return { status: 404, code: 'not_found', message: `Server "${name}" has no version ${version}` };
  return (await getTenantServer(env.DB, tenantId, name))!;
}

/** The public view of a deployed server (no code). */
export function serverView(record: TenantServerRecord, env: Env) {
  return {
    name: record.name,
    version: record.activeVersion,
    title: record.title,
    description: record.description,
    sha256: record.sha256,
    tools: record.tools,
    egress: record.egress,
    url: `${publicOrigin(env)}/servers/${record.name}/mcp`,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/** Whether a deploy or rollback answer is a refusal. */
export function isRefusal(value: TenantServerRecord | DeployRefusal): value is DeployRefusal {
  return 'status' in value && 'code' in value;
}
