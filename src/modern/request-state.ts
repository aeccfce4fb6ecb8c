import { base64url, hmacHex, randomHex, safeEqual, sha256, toHex } from '../crypto/secrets';
import { ownerKey, type Principal } from '../hosted/principal';

/**
 * The `requestState` of multi-round-trip results: the answers a stateless handler has collected so
 * far, carried by the client between rounds. It is attacker-controlled on the way back, so it is
 * signed (HMAC under SMCP_SECRET, domain-separated), bound to the caller (tenant, principal, server)
 * and to the operation (method, tool/prompt/resource name and a hash of its arguments), short-lived,
 * and single-use: a verified state's nonce is claimed with one atomic D1 insert
 * (migrations/0011_request_state_claims.sql), so the same state presented twice, even concurrently
 * or to two isolates, completes at most once (KV, eventually consistent with a read-then-write,
 * let concurrent replays through). The payload is signed, not encrypted: it holds only the client's
 * own answers.
 *
 * Wire shape: `s1.<base64url(JSON payload)>.<hex MAC>`.
 */

export const REQUEST_STATE_TTL_SECONDS = 600;
/** One claim in this many also deletes expired claims. */
const SWEEP_EVERY = 64;
const MAX_STATE_CHARS = 256 * 1024;

interface StatePayload {
  /** Answers collected in earlier rounds, by input key. */
  r: Record<string, unknown>;
  exp: number;
  n: string;
}

/** What a state is bound to, besides the caller. */
export interface Operation {
  method: string;
  name: string;
  args: unknown;
}

/** Canonical JSON (sorted keys), so the same arguments always hash the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

async function binding(principal: Principal, op: Operation): Promise<string> {
  const args = toHex(await sha256(canonical(op.args)));
  return `smcp-request-state\n${principal.server}\n${ownerKey(principal)}\n${op.method}\n${op.name}\n${args}`;
}

function decodeBase64url(text: string): string {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bytes = Uint8Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
}

/** Seal the answers collected so far into a state for the next round. */
export async function mintRequestState(secret: string, principal: Principal, op: Operation, answers: Record<string, unknown>): Promise<string> {
  const payload: StatePayload = { r: answers, exp: Math.floor(Date.now() / 1000) + REQUEST_STATE_TTL_SECONDS, n: randomHex(16) };
  const body = base64url(new TextEncoder().encode(JSON.stringify(payload)));
  return `s1.${body}.${await hmacHex(secret, `${await binding(principal, op)}\n${body}`)}`;
}

/** Why a state was refused (kept out of the wire answer, which is one fixed message). */
export type StateRefusal = 'malformed' | 'mac' | 'expired' | 'replayed';

/**
 * The answers carried by `state` when it was minted for this caller and operation, has not expired
 * and was not used before; marks it used. Constant-time MAC check.
 */
export async function openRequestState(
  secret: string,
  db: D1Database,
  principal: Principal,
  op: Operation,
  state: string,
): Promise<{ answers: Record<string, unknown> } | { refusal: StateRefusal }> {
  const parts = state.length <= MAX_STATE_CHARS ? state.split('.') : [];
  if (parts.length !== 3 || parts[0] !== 's1' || !/^[A-Za-z0-9_-]+$/.test(parts[1]!) || !/^[0-9a-f]{64}$/.test(parts[2]!)) return { refusal: 'malformed' };
  const [, body, tag] = parts as [string, string, string];
  if (!(await safeEqual(await hmacHex(secret, `${await binding(principal, op)}\n${body}`), tag))) return { refusal: 'mac' };
  let payload: StatePayload;
  try {
    payload = JSON.parse(decodeBase64url(body)) as StatePayload;
  } catch {
    return { refusal: 'malformed' };
  }
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.exp !== 'number' || payload.exp <= now) return { refusal: 'expired' };
  if (typeof payload.n !== 'string' || !payload.r || typeof payload.r !== 'object') return { refusal: 'malformed' };
  if (!(await claimOnce(db, payload.n, payload.exp, now))) return { refusal: 'replayed' };
  return { answers: payload.r };
}

/** Claim a nonce once: true for the first claim, false for every later one (atomic by the primary key). */
async function claimOnce(db: D1Database, nonce: string, expiresAt: number, now: number): Promise<boolean> {
  const claimed = await db
    .prepare('INSERT INTO request_state_claims (nonce, expires_at) VALUES (?1, ?2) ON CONFLICT (nonce) DO NOTHING')
    .bind(nonce, expiresAt)
    .run();
  if (Math.floor(Math.random() * SWEEP_EVERY) === 0) await db.prepare('DELETE FROM request_state_claims WHERE expires_at < ?1').bind(now).run();
  return claimed.meta.changes === 1;
}
