import { publicOrigin } from '../config';
import { KeyringError } from '../crypto/sealed-secrets';
import { sealCredentials } from '../gateway/upstream-credentials';
import type { Replica } from '../gateway/replicas';
import { CreateUpstreamSchema, DEFAULT_SETTINGS, PatchUpstreamSchema, upstreamView, type Credentials, type UpstreamRecord } from '../gateway/upstream-model';
import { upstreamStub } from '../gateway/upstream-state';
import { deleteUpstream, getUpstream, insertUpstream, listUpstreams, updateUpstream } from '../gateway/upstream-store';
import { privateUpstreamsAllowed, upstreamUrlProblem } from '../gateway/upstream-url';
import type { z } from 'zod';
import { json, restError } from '../http/responses';
import { DEFAULT_TENANT_LIMITS } from '../limits/tenant-limits';
import { getTenant } from '../tenancy/tenant-store';
import type { Actor } from './admin-auth';
import { readBody } from './request-body';
import { nameConflict } from '../tenancy/server-names';

/**
 * Upstream registration for a tenant (`/admin/api/tenants/<t>/upstreams`): the operator or the
 * tenant's own admins. Credentials are sealed (AES-256-GCM) before they reach D1 and are never
 * returned: views carry only `hasCredentials` and `credentialKind`. Changes are audited by the
 * admin router (`admin.upstream.create|update|delete|approve`).
 */

const notFound = () => restError(404, 'not_found', 'Upstream not found');

function urlRefusal(env: Env, url: string, creds?: Credentials | null, replicas?: Replica[] | null): Response | null {
  const allow = privateUpstreamsAllowed(env);
  const problem = upstreamUrlProblem(url, allow);
  if (problem) return restError(400, 'url_refused', `url: ${problem}`);
  // Every replica URL passes the same outbound rules as a single url.
  for (const [i, r] of (replicas ?? []).entries()) {
    const replicaProblem = upstreamUrlProblem(r.url, allow);
    if (replicaProblem) return restError(400, 'url_refused', `replicas[${i}].url: ${replicaProblem}`);
  }
  const tokenProblem = creds?.kind === 'oauth-client-credentials' ? upstreamUrlProblem(creds.tokenUrl, allow) : null;
  return tokenProblem ? restError(400, 'url_refused', `credentials.tokenUrl: ${tokenProblem}`) : null;
}

async function sealed(env: Env, tenantId: string, name: string, creds: Credentials | null | undefined): Promise<string | null | Response> {
  if (!creds) return null;
  try {
    return await sealCredentials(env, tenantId, name, creds);
  } catch (error) {
    if (error instanceof KeyringError) return restError(503, 'not_configured', 'Credentials cannot be stored: SMCP_ENCRYPTION_KEYS is missing or invalid');
    throw error;
  }
}

/** `POST .../upstreams`: register an upstream; 409 when the name is taken (by this tenant or a hosted server). */
export async function createUpstreamRoute(request: Request, env: Env, _actor: Actor, tenantId: string): Promise<Response> {
  const body = await readBody(request, CreateUpstreamSchema);
  if (body instanceof Response) return body;
  const conflict = await nameConflict(env.DB, tenantId, body.name, 'upstream');
  if (conflict) return restError(409, 'conflict', conflict);
  const url = body.url ?? body.replicas![0]!.url;
  const refused = urlRefusal(env, url, body.credentials, body.replicas);
  if (refused) return refused;
  const sealedCreds = await sealed(env, tenantId, body.name, body.credentials);
  if (sealedCreds instanceof Response) return sealedCreds;
  const write = {
    url,
    replicas: body.replicas ?? null,
    balance: body.balance,
    transport: body.transport,
    credentialKind: body.credentials?.kind ?? ('none' as const),
    sealedCredentials: sealedCreds,
    policy: body.policy,
    settings: { ...DEFAULT_SETTINGS, ...body.settings },
    enabled: body.enabled,
  };
  const max = (await getTenant(env.DB, tenantId))?.limits.maxUpstreams ?? DEFAULT_TENANT_LIMITS.maxUpstreams;
  const inserted = await insertUpstream(env.DB, tenantId, body.name, write, max);
  if (inserted === 'exists') return restError(409, 'conflict', `This tenant already has an upstream named "${body.name}"`);
  if (inserted === 'full') {
    return restError(
      409,
      'upstream_limit',
      `This tenant already has ${max} upstreams, the most it may register (limits.maxUpstreams, set by the operator); delete one first`,
    );
  }
  // A fresh registration starts from a clean state object (a previous upstream of this name is forgotten).
  await upstreamStub(env, { tenant: tenantId, name: body.name }).reset();
  return json(upstreamView((await getUpstream(env.DB, tenantId, body.name))!, publicOrigin(env)), 201);
}

/** `GET .../upstreams`. */
export async function listUpstreamsRoute(env: Env, tenantId: string): Promise<Response> {
  const origin = publicOrigin(env);
  return json({ upstreams: (await listUpstreams(env.DB, tenantId)).map((u) => upstreamView(u, origin)) });
}

/** `GET .../upstreams/<name>`: the view plus live state (breaker, health, cache, pins). */
export async function getUpstreamRoute(env: Env, tenantId: string, name: string): Promise<Response> {
  const upstream = await getUpstream(env.DB, tenantId, name);
  if (!upstream) return notFound();
  const key = { tenant: tenantId, name };
  return json({ ...upstreamView(upstream, publicOrigin(env)), state: await upstreamStub(env, key).status(key) });
}

/** `PATCH .../upstreams/<name>`: any subset; `credentials: null` removes them. Sessions reconnect with the new config. */
export async function patchUpstreamRoute(request: Request, env: Env, _actor: Actor, tenantId: string, name: string): Promise<Response> {
  const body = await readBody(request, PatchUpstreamSchema);
  if (body instanceof Response) return body;
  return patchUpstream(env, tenantId, name, body);
}

/** Apply a validated PATCH (the admin API's, or the dashboard's response-cache form): the one place an upstream is changed. */
export async function patchUpstream(env: Env, tenantId: string, name: string, body: z.output<typeof PatchUpstreamSchema>): Promise<Response> {
  const current = await getUpstream(env.DB, tenantId, name);
  if (!current) return notFound();
  // A new url replaces the replicas; new replicas replace the url (their first is the url).
  const replicas = body.replicas ?? (body.url !== undefined ? null : current.replicas);
  const url = body.url ?? replicas?.[0]?.url ?? current.url;
  const refused = urlRefusal(env, url, body.credentials, replicas);
  if (refused) return refused;
  let sealedCreds: string | null = current.sealedCredentials;
  let credentialKind: UpstreamRecord['credentialKind'] = current.credentialKind;
  if (body.credentials !== undefined) {
    const next = await sealed(env, tenantId, name, body.credentials);
    if (next instanceof Response) return next;
    sealedCreds = next;
    credentialKind = body.credentials?.kind ?? 'none';
  }
  await updateUpstream(env.DB, tenantId, name, {
    url,
    replicas,
    balance: body.balance ?? current.balance,
    transport: body.transport ?? current.transport,
    credentialKind,
    sealedCredentials: sealedCreds,
    policy: body.policy ?? current.policy,
    settings: { ...current.settings, ...body.settings },
    enabled: body.enabled ?? current.enabled,
  });
  const key = { tenant: tenantId, name };
  await upstreamStub(env, key).configChanged(key);
  return json(upstreamView((await getUpstream(env.DB, tenantId, name))!, publicOrigin(env)));
}

/** `DELETE .../upstreams/<name>`: the registration and its state (pins, cache, breaker). */
export async function deleteUpstreamRoute(env: Env, _actor: Actor, tenantId: string, name: string): Promise<Response> {
  if (!(await deleteUpstream(env.DB, tenantId, name))) return notFound();
  await upstreamStub(env, { tenant: tenantId, name }).reset();
  return new Response(null, { status: 204 });
}

/** `POST .../upstreams/<name>/approve`: pin the upstream's current tool definitions (ends drift blocks). */
export async function approveUpstreamRoute(env: Env, _actor: Actor, tenantId: string, name: string): Promise<Response> {
  if (!(await getUpstream(env.DB, tenantId, name))) return notFound();
  const key = { tenant: tenantId, name };
  try {
    const state = await upstreamStub(env, key).approve(key);
    return json({ name, state });
  } catch (error) {
    return restError(
      502,
      'upstream_unavailable',
      `Could not fetch the upstream's tools to approve them: ${String(error instanceof Error ? error.message : error).slice(0, 200)}`,
    );
  }
}
