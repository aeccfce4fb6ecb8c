/**
 * Starts the real platform locally: `wrangler dev` (workerd with local KV, D1 and Durable
 * Objects) on a chosen port, with its own state directory, migrations applied and secrets passed
 * on the command line. Shared by `npm run dev`, the end-to-end tests, the conformance run and
 * the benchmarks, so all of them exercise the same thing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WRANGLER = join(ROOT, 'node_modules', '.bin', 'wrangler');

export interface PlatformOptions {
  port?: number;
  /** Directory for local KV/D1/DO state (`--persist-to`). */
  stateDir: string;
  adminToken: string;
  secret: string;
  /** `SMCP_ENCRYPTION_KEYS` (secrets at rest); a fixed test keyring when omitted. */
  encryptionKeys?: string;
  /** Echo wrangler's output (for `npm run dev`). */
  inheritOutput?: boolean;
  /** Extra `--var NAME:VALUE` settings. */
  vars?: Record<string, string>;
  /** A wrangler config other than the project's `wrangler.jsonc` (the benchmark's, for instance). */
  config?: string;
  /** wrangler's `--log-level` (default `warn`); `log` shows the Worker's own console lines. */
  logLevel?: 'warn' | 'info' | 'log' | 'debug';
  /** How much of wrangler's output `output()` keeps (default the last 20,000 characters). */
  outputLimit?: number;
  /**
   * wrangler's local observability (`X_LOCAL_OBSERVABILITY`): a streaming tail of every invocation
   * into a JavaScript collector and a SQLite trace store, run by the same workerd on the same
   * thread as the Worker. Only `npm run dev` keeps it (the local explorer's traces); tests and
   * benchmarks turn it off, because it is dev-only work with no counterpart beside a deployed
   * Worker, and on a 2-core machine it was most of what the audit path's Durable Object calls cost
   * (docs/performance.md, "Update, 2026-12-01 16:20–17:30").
   */
  localObservability?: boolean;
}

export interface RunningPlatform {
  url: string;
  port: number;
  adminToken: string;
  process: ChildProcess;
  /** workerd's V8 inspector, through wrangler's proxy (`npm run bench:profile` samples CPU there). */
  inspectorPort: number;
  /** The last lines wrangler printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** A fixed keyring for local test platforms (never used outside tests). */
export const TEST_ENCRYPTION_KEYS = `k1:${Buffer.alloc(32, 7).toString('base64')}`;

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const env = (localObservability = false) => ({
  ...process.env,
  WRANGLER_SEND_METRICS: 'false',
  X_LOCAL_OBSERVABILITY: String(localObservability),
  CI: process.env.CI ?? '',
  NO_COLOR: '1',
  FORCE_COLOR: '0',
});

function run(args: string[], inherit = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(WRANGLER, args, { cwd: ROOT, env: env(), stdio: inherit ? 'inherit' : 'pipe' });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrangler ${args.join(' ')} exited ${code}\n${out}`))));
  });
}

const configArgs = (config?: string) => (config ? ['--config', config] : []);

/** Apply the D1 migrations to the local database in `stateDir`. */
export function applyMigrations(stateDir: string, config?: string): Promise<string> {
  return run(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', stateDir, ...configArgs(config)]);
}

/** wrangler dev exited because a port it was given was taken (by another process that started meanwhile). */
class PortTaken extends Error {}

/** How many times a start whose ports were taken is retried with fresh ones. */
const PORT_ATTEMPTS = 3;

/**
 * Start `wrangler dev` and resolve once `/health` answers. Ports this picks (`freePort`) are free
 * when picked but only bound when wrangler starts, so a process starting at the same time (the
 * bench launches its variants in parallel) can take one first: wrangler then exits with "Address
 * already in use", and the start is retried with fresh ports. A port the caller chose is never
 * replaced.
 */
export async function startPlatform(opts: PlatformOptions): Promise<RunningPlatform> {
  await applyMigrations(opts.stateDir, opts.config);
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(opts, opts.port ?? (await freePort()));
    } catch (error) {
      if (!(error instanceof PortTaken) || opts.port !== undefined || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

async function launch(opts: PlatformOptions, port: number): Promise<RunningPlatform> {
  const url = `http://localhost:${port}`;
  // Local platforms allow loopback upstreams: the gateway tests and demos run them on 127.0.0.1.
  const vars = {
    SMCP_PUBLIC_URL: url,
    SMCP_ADMIN_TOKEN: opts.adminToken,
    SMCP_SECRET: opts.secret,
    SMCP_ENCRYPTION_KEYS: opts.encryptionKeys ?? TEST_ENCRYPTION_KEYS,
    SMCP_ALLOW_PRIVATE_UPSTREAMS: 'true',
    ...opts.vars,
  };
  const inspectorPort = await freePort();
  const args = [
    'dev',
    '--port',
    String(port),
    '--ip',
    '127.0.0.1',
    '--persist-to',
    opts.stateDir,
    '--inspector-port',
    String(inspectorPort),
    '--show-interactive-dev-session=false',
    '--log-level',
    opts.logLevel ?? 'warn',
    ...configArgs(opts.config),
  ];
  for (const [name, value] of Object.entries(vars)) args.push('--var', `${name}:${value}`);
  const child = spawn(WRANGLER, args, { cwd: ROOT, env: env(opts.localObservability), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  const collect = (d: Buffer) => {
    log = (log + d.toString()).slice(-(opts.outputLimit ?? 20_000));
    if (opts.inheritOutput) process.stdout.write(d);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        resolve();
      }
      setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 5000).unref();
    });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      const message = `wrangler dev exited early (${child.exitCode}):\n${log}`;
      throw /address already in use|EADDRINUSE/i.test(log) ? new PortTaken(message) : new Error(message);
    }
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return { url, port, adminToken: opts.adminToken, process: child, inspectorPort, output: () => log, stop };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await stop();
  throw new Error(`wrangler dev did not answer /health within 60 s:\n${log}`);
}

/** Call the admin API with the operator token; returns status and parsed body. */
export async function admin(
  platform: { url: string; adminToken: string },
  path: string,
  body: unknown,
  method = 'POST',
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- admin API JSON; callers read the fields they asserted
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${platform.url}/admin/api${path}`, {
    method,
    headers: { Authorization: `Bearer ${platform.adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** Create a tenant with one user; 409s (already seeded) are fine. */
export async function seedTenant(
  platform: { url: string; adminToken: string },
  tenant: { id: string; name: string; servers: string[] },
  user: { email: string; password: string; role: 'admin' | 'member' | 'read-only' },
): Promise<void> {
  for (const [path, body] of [
    ['/tenants', tenant],
    [`/tenants/${tenant.id}/users`, user],
  ] as const) {
    const res = await admin(platform, path, body);
    if (res.status !== 201 && res.status !== 409) throw new Error(`seeding ${path} failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

/**
 * Give a load-test tenant and its keys room, the way an operator would (admin API): the platform's
 * defaults are sized for interactive clients (1,000 requests a minute per tenant, 600 per key), and a
 * benchmark of one client is far past them. `requestsPerMinute` stays settable (the noisy-tenant
 * bench is about that limit); every key passed gets per-key limits above anything a run reaches.
 */
export async function raiseLimitsForLoad(
  platform: { url: string; adminToken: string },
  tenant: string,
  keyIds: string[],
  requestsPerMinute = 1_000_000,
): Promise<void> {
  const limits = {
    requestsPerMinute,
    maxSessions: 10_000,
    maxSessionsPerUser: 1_000,
    credentialPerMinute: 1_000_000,
    credentialPerHour: 10_000_000,
    credentialPerDay: 100_000_000,
  };
  const patched = await admin(platform, `/tenants/${tenant}`, { limits }, 'PATCH');
  if (patched.status !== 200) throw new Error(`setting limits of ${tenant}: ${patched.status} ${JSON.stringify(patched.body)}`);
  for (const id of keyIds) {
    const key = await admin(platform, `/tenants/${tenant}/keys/${id}`, { limits: { perMinute: 1_000_000, perHour: 10_000_000, perDay: 100_000_000 } }, 'PATCH');
    if (key.status !== 200) throw new Error(`setting limits of key ${id}: ${key.status} ${JSON.stringify(key.body)}`);
  }
}
