import { z } from 'zod';
import { SERVER_NAME_PATTERN } from '../../servers/registry';
import { RoleSchema, type Role } from '../tenancy/model';
import type { BalanceStrategy } from './balancer';
import { BalanceSchema, ReplicasSchema, type Replica } from './replicas';
import { DEFAULT_RESPONSE_CACHE, ResponseCacheSettingsSchema } from './response-cache-model';

/**
 * The gateway's vocabulary: what a tenant admin registers about an upstream MCP server, with the
 * zod schemas that guard the admin API. Credentials are a separate schema because they are sealed
 * before storage and never leave the platform again.
 */

export const TRANSPORTS = ['streamable-http', 'sse'] as const;
export type UpstreamTransport = (typeof TRANSPORTS)[number];

const ToolName = z.string().min(1).max(128);
const HeaderName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'header name must be letters, digits and dashes');
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'content-type', 'accept', 'mcp-session-id', 'mcp-protocol-version', 'cookie']);

export const CredentialsSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('bearer'), token: z.string().min(1).max(4096) }),
  z.strictObject({
    kind: z.literal('header'),
    name: HeaderName.refine((n) => !FORBIDDEN_HEADERS.has(n.toLowerCase()), 'this header is set by the platform'),
    value: z.string().min(1).max(4096),
  }),
  z.strictObject({
    kind: z.literal('oauth-client-credentials'),
    tokenUrl: z.url(),
    clientId: z.string().min(1).max(512),
    clientSecret: z.string().min(1).max(4096),
    scope: z.string().max(1024).optional(),
    audience: z.string().max(1024).optional(),
  }),
]);
export type Credentials = z.infer<typeof CredentialsSchema>;
export type CredentialKind = Credentials['kind'] | 'none';

/** Which upstream tools are exposed, under which names, and who may call them. Tool keys are upstream names. */
export const PolicySchema = z
  .strictObject({
    allow: z.array(ToolName).max(500).optional(),
    deny: z.array(ToolName).max(500).optional(),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{0,32}$/, 'prefix: letters, digits, _ . - (up to 32)')
      .optional(),
    renames: z.record(ToolName, ToolName).optional(),
    minRoles: z.record(ToolName, RoleSchema).optional(),
  })
  .refine((p) => !(p.allow && p.deny), { message: 'use either allow or deny, not both' });
export type UpstreamPolicy = z.infer<typeof PolicySchema>;

/** The shortest health-check interval an upstream may ask for (traffic the platform generates on its own). */
export const MIN_HEALTH_INTERVAL_MS = 30_000;

/** Resilience knobs, bounded so one tenant cannot configure an upstream into a resource sink. */
export const SettingsSchema = z.strictObject({
  connectTimeoutMs: z.number().int().min(100).max(30_000).default(5_000),
  requestTimeoutMs: z.number().int().min(100).max(120_000).default(30_000),
  responseTimeoutMs: z.number().int().min(100).max(300_000).default(60_000),
  retries: z.number().int().min(0).max(5).default(2),
  retryBaseMs: z.number().int().min(10).max(5_000).default(200),
  failureThreshold: z.number().int().min(1).max(100).default(5),
  cooldownMs: z.number().int().min(100).max(600_000).default(30_000),
  cacheTtlMs: z.number().int().min(0).max(86_400_000).default(300_000),
  healthIntervalMs: z
    .number()
    .int()
    .min(MIN_HEALTH_INTERVAL_MS, `healthIntervalMs must be at least ${MIN_HEALTH_INTERVAL_MS} ms`)
    .max(86_400_000)
    .default(60_000),
  maxResponseBytes: z
    .number()
    .int()
    .min(1_024)
    .max(16 * 1024 * 1024)
    .default(4 * 1024 * 1024),
  /** Response caching of idempotent reads (docs/gateway.md, "Response caching"); off by default. */
  responseCache: ResponseCacheSettingsSchema.default(DEFAULT_RESPONSE_CACHE),
});
export type UpstreamSettings = z.infer<typeof SettingsSchema>;

/**
 * The settings a request may give: each optional and without its default, so a PATCH that names
 * one setting leaves the others as they are (a plain `.partial()` would fill in every default).
 */
const SettingsInputSchema = z.strictObject(
  Object.fromEntries(Object.entries(SettingsSchema.shape).map(([k, v]) => [k, v.unwrap().optional()])) as {
    [K in keyof typeof SettingsSchema.shape]: z.ZodOptional<ReturnType<(typeof SettingsSchema.shape)[K]['unwrap']>>;
  },
);

/** Defaults for every setting (the 5 s / 30 s / 60 s timeouts). */
export const DEFAULT_SETTINGS: UpstreamSettings = SettingsSchema.parse({});

export const UpstreamNameSchema = z.string().regex(SERVER_NAME_PATTERN, 'name must match ^[a-z][a-z0-9-]{0,31}$');

/** `POST /admin/api/tenants/<t>/upstreams`. */
export const CreateUpstreamSchema = z
  .strictObject({
    name: UpstreamNameSchema,
    url: z.url().max(2048).optional(),
    replicas: ReplicasSchema.optional(),
    balance: BalanceSchema.default('round-robin'),
    transport: z.enum(TRANSPORTS).default('streamable-http'),
    credentials: CredentialsSchema.optional(),
    policy: PolicySchema.default({}),
    settings: SettingsInputSchema.default({}),
    enabled: z.boolean().default(true),
  })
  .refine((u) => (u.url === undefined) !== (u.replicas === undefined), { message: 'give either url or replicas, not both' });

/** `PATCH .../upstreams/<name>`: any subset; `credentials: null` removes them. */
export const PatchUpstreamSchema = z
  .strictObject({
    url: z.url().max(2048).optional(),
    replicas: ReplicasSchema.optional(),
    balance: BalanceSchema.optional(),
    transport: z.enum(TRANSPORTS).optional(),
    credentials: CredentialsSchema.nullable().optional(),
    policy: PolicySchema.optional(),
    settings: SettingsInputSchema.optional(),
    enabled: z.boolean().optional(),
  })
  .refine((p) => Object.keys(p).length > 0, { message: 'nothing to change' })
  .refine((p) => !(p.url !== undefined && p.replicas !== undefined), { message: 'give either url or replicas, not both' });

export type BreakerState = 'closed' | 'open' | 'half-open';

/** An upstream as stored, credentials still sealed. */
export interface UpstreamRecord {
  tenantId: string;
  name: string;
  /** The single URL, or the first replica's. */
  url: string;
  /** Null for a single-URL upstream; else the replicas (the first is also `url`). */
  replicas: Replica[] | null;
  balance: BalanceStrategy;
  transport: UpstreamTransport;
  credentialKind: CredentialKind;
  sealedCredentials: string | null;
  policy: UpstreamPolicy;
  settings: UpstreamSettings;
  enabled: boolean;
  breakerState: BreakerState;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What the admin API shows: never the credentials, only whether there are some and of which kind. */
export function upstreamView(u: UpstreamRecord, origin: string) {
  return {
    name: u.name,
    tenant: u.tenantId,
    url: u.url,
    replicas: u.replicas,
    balance: u.balance,
    transport: u.transport,
    hasCredentials: u.credentialKind !== 'none',
    credentialKind: u.credentialKind,
    policy: u.policy,
    settings: u.settings,
    enabled: u.enabled,
    breakerState: u.breakerState,
    version: u.version,
    endpoint: `${origin}/servers/${u.name}/mcp`,
    createdAt: u.createdAt,
    updatedAt: u.updatedAt,
  };
}

/** The replicas calls are spread over: the configured ones, or the single URL as one replica. */
export function replicasOf(u: Pick<UpstreamRecord, 'url' | 'replicas'>): Replica[] {
  return u.replicas ?? [{ url: u.url, weight: 1 }];
}

/** Associated data a tenant upstream's credentials are sealed with (moving them to another row fails). */
export function credentialContext(tenantId: string, name: string): string {
  return `upstream:${tenantId}:${name}`;
}

/** The least role for a tool from the upstream's policy override, if any. */
export function overrideRole(policy: UpstreamPolicy, upstreamTool: string): Role | undefined {
  return policy.minRoles && Object.hasOwn(policy.minRoles, upstreamTool) ? policy.minRoles[upstreamTool] : undefined;
}
