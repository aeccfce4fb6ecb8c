import { fixedLengthEqual, hmacHex, randomHex } from '../crypto/secrets';

/**
 * Session ids bound to their owner. The id a client sees is `<raw>.<mac>`, where the MAC covers
 * the server, the owner (tenant, user, client) and the raw id. The gate recomputes it for the
 * caller before anything reaches a Durable Object, so another caller's request, or an id nobody
 * issued, is answered 404 without touching (or creating) a session object.
 */

const MAC_HEX = 32; // 128-bit tag
const EXTERNAL_ID = /^([0-9a-f]{32,64})\.([0-9a-f]{32})$/;
const RAW_ID = /^[0-9a-f]{32,64}$/;

async function mac(secret: string, server: string, owner: string, raw: string): Promise<string> {
  return (await hmacHex(secret, `smcp-session\n${server}\n${owner}\n${raw}`)).slice(0, MAC_HEX);
}

/** The client-facing id for a raw session id (the Durable Object name part) minted for `owner`. */
export async function sealSessionId(secret: string, server: string, owner: string, raw: string): Promise<string> {
  if (!RAW_ID.test(raw)) throw new Error('raw session id must be 32-64 lowercase hex characters');
  return `${raw}.${await mac(secret, server, owner, raw)}`;
}

/** A fresh client-facing id, for transports where the gate picks the id (legacy SSE). */
export function newSessionId(secret: string, server: string, owner: string): Promise<string> {
  return sealSessionId(secret, server, owner, randomHex(32));
}

/** The raw id when `external` was minted for this owner on this server, else null. Constant time. */
export async function openSessionId(secret: string, server: string, owner: string, external: string | null): Promise<string | null> {
  const match = external ? EXTERNAL_ID.exec(external) : null;
  if (!match) return null;
  const [, raw, tag] = match as unknown as [string, string, string];
  // The tag's length is fixed by EXTERNAL_ID (MAC_HEX characters), so a byte-for-byte constant-time compare leaks nothing.
  return fixedLengthEqual(await mac(secret, server, owner, raw), tag) ? raw : null;
}
