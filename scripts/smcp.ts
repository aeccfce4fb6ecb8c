/**
 * `npm run smcp -- <command>`: the operator and tenant-admin CLI, a thin client of the admin REST
 * API (docs/api.md). The token comes from SMCP_TOKEN (operator token or an admin API key), never
 * from the command line; the URL from --url or SMCP_URL (default http://localhost:8787).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const USAGE = `usage: npm run smcp -- [--url URL] <command>

  tenant create <id> [--name NAME] [--servers a,b]   tenant list | get <id> | suspend <id> | resume <id> | delete <id>
  tenant servers <id> <a,b>                           (operator) set the enabled servers
  tenant limits <id> [--rpm N] [--sessions N] [--user-sessions N] [--upstreams N] [--key-per-minute N] [--key-per-hour N] [--key-per-day N]
                                                      (operator) set limits ("default" restores one); --key-per-* are the
                                                      tenant's default request limits for each API key and signed-in user
  user add <tenant> <email> [--role ROLE]             password from SMCP_PASSWORD
  user list <tenant> | set-role <tenant> <user-id> <role> | remove <tenant> <user-id>
  key create <tenant> [--name NAME] [--role ROLE] [--expires-in-days N]
  key list <tenant> | revoke <tenant> <key-id> | rotate <tenant> <key-id> [--grace-hours H]
  key limits <tenant> <key-id> [--per-minute N] [--per-hour N] [--per-day N]   the key's own limits; "default" = tenant's
  upstream add <tenant> <name> <url> [--transport sse] [--auth bearer|header:<Name>|oauth --token-url U --client-id ID [--scope S]]
               [--allow a,b | --deny a,b] [--prefix P] [--rename from=to,...] [--min-role tool=role,...] [--settings JSON]
                                                      secret (token, header value, client secret) from SMCP_UPSTREAM_SECRET
  upstream list <tenant> | get <tenant> <name> | approve <tenant> <name> | enable|disable <tenant> <name> | remove <tenant> <name>
  upstream cache <tenant> <name> on|off [--ttl MINUTES] [--tools a,b]
                                                      response caching (docs/gateway.md): TTL 5..60 minutes (default 5), tools =
                                                      upstream names of read-only, idempotent tools to cache; replaces the setting
  server deploy <tenant> <name> <file.js> [--title T] [--description D] [--egress host,host|none]
                                                      deploy a tenant server from an ES module (docs/servers.md); a new version each time
  server list <tenant> | get <tenant> <name> | versions <tenant> <name> | rollback <tenant> <name> <version> | remove <tenant> <name>
  alert add <tenant> <server> <metric> <webhook-url> [--threshold N] [--window MINUTES] [--min-requests N]
                                                      metric: p95_latency_ms | p99_latency_ms | error_rate | rate_limited_share |
                                                      breaker_open | replica_down; prints the signing secret once (docs/gateway.md)
  alert list <tenant> | get <tenant> <id> | enable|disable <tenant> <id> | remove <tenant> <id> | evaluate <tenant>
  alert set <tenant> <id> [--threshold N] [--window MINUTES] [--min-requests N] [--webhook URL]
  secrets rotate                                      (operator) re-seal stored secrets under the current key

environment: SMCP_TOKEN (required), SMCP_URL, SMCP_PASSWORD (for user add), SMCP_UPSTREAM_SECRET (for upstream add --auth)`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string' },
    name: { type: 'string' },
    servers: { type: 'string' },
    role: { type: 'string' },
    'expires-in-days': { type: 'string' },
    'grace-hours': { type: 'string' },
    rpm: { type: 'string' },
    sessions: { type: 'string' },
    'user-sessions': { type: 'string' },
    upstreams: { type: 'string' },
    'key-per-minute': { type: 'string' },
    'key-per-hour': { type: 'string' },
    'key-per-day': { type: 'string' },
    'per-minute': { type: 'string' },
    'per-hour': { type: 'string' },
    'per-day': { type: 'string' },
    transport: { type: 'string' },
    auth: { type: 'string' },
    'token-url': { type: 'string' },
    'client-id': { type: 'string' },
    scope: { type: 'string' },
    allow: { type: 'string' },
    deny: { type: 'string' },
    prefix: { type: 'string' },
    rename: { type: 'string' },
    'min-role': { type: 'string' },
    settings: { type: 'string' },
    title: { type: 'string' },
    description: { type: 'string' },
    egress: { type: 'string' },
    threshold: { type: 'string' },
    window: { type: 'string' },
    'min-requests': { type: 'string' },
    webhook: { type: 'string' },
    ttl: { type: 'string' },
    tools: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const base = (values.url ?? process.env.SMCP_URL ?? 'http://localhost:8787').replace(/\/$/, '');
const token = process.env.SMCP_TOKEN;
const [noun, verb, ...args] = positionals;
if (values.help || !noun || !verb) fail(USAGE);
if (!token) fail('SMCP_TOKEN is not set: export the operator token or an admin API key');

const arg = (i: number, what: string) => args[i] ?? fail(`missing ${what}\n\n${USAGE}`);
const num = (v: string | undefined) => (v === undefined ? undefined : Number.isFinite(Number(v)) ? Number(v) : fail(`not a number: ${v}`));
const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const t = () => encodeURIComponent(arg(0, 'tenant id'));
/** A limit option: a number, or "default" (null) to go back to the default. */
const limit = (v: string | undefined) => (v === 'default' ? null : num(v));

function request(): [string, string, unknown?] {
  switch (`${noun} ${verb}`) {
    case 'tenant create':
      return ['POST', '/tenants', { id: arg(0, 'tenant id'), name: values.name ?? arg(0, 'tenant id'), servers: values.servers ? list(values.servers) : [] }];
    case 'tenant list':
      return ['GET', '/tenants'];
    case 'tenant get':
      return ['GET', `/tenants/${t()}`];
    case 'tenant suspend':
      return ['PATCH', `/tenants/${t()}`, { status: 'suspended' }];
    case 'tenant resume':
      return ['PATCH', `/tenants/${t()}`, { status: 'active' }];
    case 'tenant servers':
      return ['PATCH', `/tenants/${t()}`, { servers: list(arg(1, 'server list')) }];
    case 'tenant limits': {
      const limits = {
        requestsPerMinute: limit(values.rpm),
        maxSessions: limit(values.sessions),
        maxSessionsPerUser: limit(values['user-sessions']),
        maxUpstreams: limit(values.upstreams),
        credentialPerMinute: limit(values['key-per-minute']),
        credentialPerHour: limit(values['key-per-hour']),
        credentialPerDay: limit(values['key-per-day']),
      };
      if (Object.values(limits).every((v) => v === undefined))
        fail('tenant limits: give at least one of --rpm, --sessions, --user-sessions, --upstreams, --key-per-minute, --key-per-hour, --key-per-day');
      return ['PATCH', `/tenants/${t()}`, { limits }];
    }
    case 'tenant delete':
      return ['DELETE', `/tenants/${t()}`];
    case 'user add': {
      const password = process.env.SMCP_PASSWORD ?? fail('SMCP_PASSWORD is not set: the new user password is read from the environment');
      return ['POST', `/tenants/${t()}/users`, { email: arg(1, 'email'), password, role: values.role ?? 'member' }];
    }
    case 'user list':
      return ['GET', `/tenants/${t()}/users`];
    case 'user set-role':
      return ['PATCH', `/tenants/${t()}/users/${encodeURIComponent(arg(1, 'user id'))}`, { role: arg(2, 'role') }];
    case 'user remove':
      return ['DELETE', `/tenants/${t()}/users/${encodeURIComponent(arg(1, 'user id'))}`];
    case 'key create':
      return ['POST', `/tenants/${t()}/keys`, { name: values.name ?? 'cli', role: values.role ?? 'member', expiresInDays: num(values['expires-in-days']) }];
    case 'key list':
      return ['GET', `/tenants/${t()}/keys`];
    case 'key revoke':
      return ['DELETE', `/tenants/${t()}/keys/${encodeURIComponent(arg(1, 'key id'))}`];
    case 'key limits': {
      const limits = { perMinute: limit(values['per-minute']), perHour: limit(values['per-hour']), perDay: limit(values['per-day']) };
      if (Object.values(limits).every((v) => v === undefined)) fail('key limits: give at least one of --per-minute, --per-hour, --per-day');
      return ['PATCH', `/tenants/${t()}/keys/${encodeURIComponent(arg(1, 'key id'))}`, { limits }];
    }
    case 'key rotate':
      return ['POST', `/tenants/${t()}/keys/${encodeURIComponent(arg(1, 'key id'))}/rotate`, { graceHours: num(values['grace-hours']) }];
    case 'upstream add':
      return ['POST', `/tenants/${t()}/upstreams`, upstreamBody()];
    case 'upstream list':
      return ['GET', `/tenants/${t()}/upstreams`];
    case 'upstream get':
      return ['GET', `/tenants/${t()}/upstreams/${encodeURIComponent(arg(1, 'upstream name'))}`];
    case 'upstream approve':
      return ['POST', `/tenants/${t()}/upstreams/${encodeURIComponent(arg(1, 'upstream name'))}/approve`];
    case 'upstream enable':
    case 'upstream disable':
      return ['PATCH', `/tenants/${t()}/upstreams/${encodeURIComponent(arg(1, 'upstream name'))}`, { enabled: verb === 'enable' }];
    case 'upstream cache': {
      const mode = arg(2, 'on or off');
      if (mode !== 'on' && mode !== 'off') fail('upstream cache: say on or off');
      const ttlMs = values.ttl === undefined ? undefined : Number.isFinite(Number(values.ttl)) ? Number(values.ttl) * 60_000 : fail('--ttl must be minutes');
      const responseCache = { enabled: mode === 'on', ttlMs, tools: values.tools === undefined ? undefined : list(values.tools) };
      return ['PATCH', `/tenants/${t()}/upstreams/${encodeURIComponent(arg(1, 'upstream name'))}`, { settings: { responseCache } }];
    }
    case 'upstream remove':
      return ['DELETE', `/tenants/${t()}/upstreams/${encodeURIComponent(arg(1, 'upstream name'))}`];
    case 'alert add':
      return [
        'POST',
        `/tenants/${t()}/alerts`,
        { server: arg(1, 'server or upstream name'), metric: arg(2, 'metric'), webhookUrl: arg(3, 'webhook URL'), ...alertNumbers() },
      ];
    case 'alert set':
      return ['PATCH', `/tenants/${t()}/alerts/${encodeURIComponent(arg(1, 'alert id'))}`, { ...alertNumbers(), webhookUrl: values.webhook }];
    case 'alert list':
      return ['GET', `/tenants/${t()}/alerts`];
    case 'alert get':
      return ['GET', `/tenants/${t()}/alerts/${encodeURIComponent(arg(1, 'alert id'))}`];
    case 'alert enable':
    case 'alert disable':
      return ['PATCH', `/tenants/${t()}/alerts/${encodeURIComponent(arg(1, 'alert id'))}`, { enabled: verb === 'enable' }];
    case 'alert remove':
      return ['DELETE', `/tenants/${t()}/alerts/${encodeURIComponent(arg(1, 'alert id'))}`];
    case 'alert evaluate':
      return ['POST', `/tenants/${t()}/alerts/evaluate`];
    case 'server deploy': {
      const file = arg(2, 'module file');
      let module: string;
      try {
        module = readFileSync(file, 'utf8');
      } catch (error) {
        return fail(`cannot read ${file}: ${String(error)}`);
      }
      const egress = values.egress === undefined ? undefined : values.egress === 'none' ? [] : list(values.egress);
      return [
        'PUT',
        `/tenants/${t()}/servers/${encodeURIComponent(arg(1, 'server name'))}`,
        { module, title: values.title, description: values.description, egress },
      ];
    }
    case 'server list':
      return ['GET', `/tenants/${t()}/servers`];
    case 'server get':
      return ['GET', `/tenants/${t()}/servers/${encodeURIComponent(arg(1, 'server name'))}`];
    case 'server versions':
      return ['GET', `/tenants/${t()}/servers/${encodeURIComponent(arg(1, 'server name'))}/versions`];
    case 'server rollback':
      return ['POST', `/tenants/${t()}/servers/${encodeURIComponent(arg(1, 'server name'))}/rollback`, { version: num(arg(2, 'version')) }];
    case 'server remove':
      return ['DELETE', `/tenants/${t()}/servers/${encodeURIComponent(arg(1, 'server name'))}`];
    case 'secrets rotate':
      return ['POST', '/secrets/rotate'];
    default:
      return fail(`unknown command: ${noun} ${verb}\n\n${USAGE}`);
  }
}

/** `a=b,c=d` → { a: 'b', c: 'd' }. */
function pairs(v: string | undefined): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  return Object.fromEntries(
    list(v).map((p) => {
      const at = p.indexOf('=');
      return at > 0 ? [p.slice(0, at), p.slice(at + 1)] : fail(`expected name=value, got ${p}`);
    }),
  );
}

/** Numeric alert options (omitted ones keep their defaults or current values). */
function alertNumbers(): Record<string, number | undefined> {
  const num = (v: string | undefined, what: string) =>
    v === undefined ? undefined : Number.isFinite(Number(v)) ? Number(v) : fail(`${what} must be a number`);
  return {
    threshold: num(values.threshold, '--threshold'),
    windowMinutes: num(values.window, '--window'),
    minRequests: num(values['min-requests'], '--min-requests'),
  };
}

/** The upstream registration body; the secret comes from SMCP_UPSTREAM_SECRET, never the command line. */
function upstreamBody(): Record<string, unknown> {
  const secret = () => process.env.SMCP_UPSTREAM_SECRET || fail('SMCP_UPSTREAM_SECRET is not set: --auth reads the secret from the environment');
  const auth = values.auth;
  let credentials: Record<string, unknown> | undefined;
  if (auth === 'bearer') credentials = { kind: 'bearer', token: secret() };
  else if (auth?.startsWith('header:')) credentials = { kind: 'header', name: auth.slice(7), value: secret() };
  else if (auth === 'oauth') {
    credentials = {
      kind: 'oauth-client-credentials',
      tokenUrl: values['token-url'] ?? fail('--auth oauth needs --token-url'),
      clientId: values['client-id'] ?? fail('--auth oauth needs --client-id'),
      clientSecret: secret(),
      scope: values.scope,
    };
  } else if (auth !== undefined) fail(`--auth must be bearer, header:<Name> or oauth`);
  let settings: unknown;
  try {
    settings = values.settings ? JSON.parse(values.settings) : undefined;
  } catch {
    fail('--settings must be JSON');
  }
  const policy = {
    allow: values.allow ? list(values.allow) : undefined,
    deny: values.deny ? list(values.deny) : undefined,
    prefix: values.prefix,
    renames: pairs(values.rename),
    minRoles: pairs(values['min-role']),
  };
  return { name: arg(1, 'upstream name'), url: arg(2, 'upstream url'), transport: values.transport, credentials, policy, settings };
}

const [method, path, body] = request();
const init: RequestInit = { method, headers: { authorization: `Bearer ${token}` } };
if (body !== undefined) {
  init.headers = { ...init.headers, 'content-type': 'application/json' };
  init.body = JSON.stringify(body);
}
let res: Response;
try {
  res = await fetch(`${base}/admin/api${path}`, init);
} catch (error) {
  fail(`cannot reach ${base}: ${String(error)}`);
}
const text = await res.text();
if (!res.ok) {
  let message = text;
  try {
    const parsed = JSON.parse(text) as { error?: { code: string; message: string } };
    if (parsed.error) message = `${parsed.error.code}: ${parsed.error.message}`;
  } catch {
    // not JSON: print as is
  }
  console.error(`error ${res.status}: ${message}`);
  process.exit(1);
}
console.log(text ? JSON.stringify(JSON.parse(text), null, 2) : `ok (${res.status})`);
if (noun === 'key' && (verb === 'create' || verb === 'rotate')) console.error('The key above is shown once; store it now.');
if (noun === 'alert' && verb === 'add') console.error('The signing secret above is shown once; store it now (it verifies the SMCP-Signature header).');
