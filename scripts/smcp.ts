/**
 * `npm run smcp -- <command>`: the operator and tenant-admin CLI, a thin client of the admin REST
 * API (docs/api.md). The token comes from SMCP_TOKEN (operator token or an admin API key), never
 * from the command line; the URL from --url or SMCP_URL (default http://localhost:8787).
 */
import { parseArgs } from 'node:util';

const USAGE = `usage: npm run smcp -- [--url URL] <command>

  tenant create <id> [--name NAME] [--servers a,b]   tenant list | get <id> | suspend <id> | resume <id> | delete <id>
  tenant servers <id> <a,b>                           (operator) set the enabled servers
  tenant limits <id> [--rpm N] [--sessions N] [--user-sessions N]   (operator) set limits; "default" restores one
  user add <tenant> <email> [--role ROLE]             password from SMCP_PASSWORD
  user list <tenant> | set-role <tenant> <user-id> <role> | remove <tenant> <user-id>
  key create <tenant> [--name NAME] [--role ROLE] [--expires-in-days N]
  key list <tenant> | revoke <tenant> <key-id> | rotate <tenant> <key-id> [--grace-hours H]

environment: SMCP_TOKEN (required), SMCP_URL, SMCP_PASSWORD (for user add)`;

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
const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const t = () => encodeURIComponent(arg(0, 'tenant id'));

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
      const limit = (v: string | undefined) => (v === 'default' ? null : num(v));
      const limits = { requestsPerMinute: limit(values.rpm), maxSessions: limit(values.sessions), maxSessionsPerUser: limit(values['user-sessions']) };
      if (Object.values(limits).every((v) => v === undefined)) fail('tenant limits: give at least one of --rpm, --sessions, --user-sessions');
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
    case 'key rotate':
      return ['POST', `/tenants/${t()}/keys/${encodeURIComponent(arg(1, 'key id'))}/rotate`, { graceHours: num(values['grace-hours']) }];
    default:
      return fail(`unknown command: ${noun} ${verb}\n\n${USAGE}`);
  }
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
