import { OAuthResourceServer } from '@cloudflare/workers-oauth-provider';
import { McpAgent } from 'agents/mcp';
import platform from '../src/index';
import { verifyApiKey } from '../src/tenancy/api-keys';

/**
 * Worker entry for `npm run bench` only (bound by the generated bench config, never deployed). It
 * is the production Worker unchanged — same default handler, same Durable Object classes — plus
 * two comparison routes:
 *
 * - `POST /bench/floor`: a fixed JSON-RPC result and nothing else (no auth, no Durable Object), the
 *   cost of workerd plus HTTP on this machine;
 * - `/bench/bare/mcp`: `McpAgent.serve` for a plain McpAgent behind an `OAuthResourceServer` whose
 *   validator accepts the same `smcp_` API keys (same lookup in D1) — what a minimal Cloudflare MCP
 *   deployment does, without the platform's gate, session binding, policy, audit or limits.
 *
 * The platform variant is the production route `/servers/everything/mcp`, whose Durable Object
 * binding the bench config points at `BenchPlatformServer` (the same tool on a HostedMcpAgent).
 * Auditing cannot be switched off in production code: the unaudited variant is a second
 * `wrangler dev` whose config binds the same route to `BenchUnauditedServer`, a subclass that drops
 * its session's events (bench-servers.ts); `npm run bench:profile` (its share of CPU) and
 * `npm run bench:audit-cost` (piece by piece) say where the cost goes.
 */
export * from '../src/index';
export { BenchBareServer, BenchPlatformServer, BenchUnauditedServer } from './bench-servers';

interface BenchEnv extends Env {
  BENCH_BARE: DurableObjectNamespace;
}

const FLOOR_RESULT = {
  initialize: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'floor', version: '1.0.0' } },
  call: { content: [{ type: 'text', text: 'bench' }] },
};

async function floor(request: Request): Promise<Response> {
  let id: unknown = null;
  let method = '';
  try {
    ({ id = null, method = '' } = (await request.json()) as { id?: unknown; method?: string });
  } catch {
    // a fixed answer regardless
  }
  if (id === null) return new Response(null, { status: 202 });
  const result = method === 'initialize' ? FLOOR_RESULT.initialize : FLOOR_RESULT.call;
  return Response.json({ jsonrpc: '2.0', id, result });
}

const BARE_PATH = '/bench/bare/mcp';
const bareMcp = McpAgent.serve(BARE_PATH, { binding: 'BENCH_BARE' });
let bareResource: OAuthResourceServer<BenchEnv, unknown> | undefined;

function bare(env: BenchEnv): OAuthResourceServer<BenchEnv, unknown> {
  bareResource ??= new OAuthResourceServer<BenchEnv, unknown>({
    resourceMetadata: { resource: `${env.SMCP_PUBLIC_URL}${BARE_PATH}`, authorization_servers: [env.SMCP_PUBLIC_URL], bearer_methods_supported: ['header'] },
    requiredScopes: ['mcp'],
    validateToken: (env) => async (resource, token) => {
      const verified = await verifyApiKey(env.DB, token);
      if ('refusal' in verified) return null;
      return { props: { tenantId: verified.key.tenantId, keyId: verified.key.id }, audience: resource, clientId: verified.key.id };
    },
    handler: { fetch: (request, env, ctx) => bareMcp.fetch(request, env, ctx) },
  });
  return bareResource;
}

export default {
  async fetch(request: Request, env: BenchEnv, ctx: ExecutionContext): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === '/bench/floor' && request.method === 'POST') return floor(request);
    if (path === BARE_PATH) return bare(env).fetch(request, env, ctx);
    return platform.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<BenchEnv>;
