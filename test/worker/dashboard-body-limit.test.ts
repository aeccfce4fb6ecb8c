import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { MAX_DASHBOARD_BODY_BYTES } from '../../src/dashboard/dashboard';
import { D, signedIn } from './dashboard-support';
import { adminCall, seedTenant } from './platform-client';

/** A form body streamed in 64 KiB chunks with no Content-Length (so only reading it can bound it). */
function chunked(totalBytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  const prefix = new TextEncoder().encode('csrf=x&email=a%40b.c&password=p&pad=');
  return new ReadableStream({
    pull(controller) {
      if (sent >= totalBytes) return controller.close();
      const chunk = sent === 0 ? prefix : new Uint8Array(64 * 1024).fill(0x61);
      sent += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
}

/**
 * Dashboard forms are read whole (`formData()`), and the sign-in forms before anyone is signed in:
 * every dashboard body is bounded before it is read, declared length or not.
 */
describe('dashboard request bodies are bounded', () => {
  it('refuses an oversized sign-in body (declared, or streamed without a length) with 413 before reading it', async () => {
    for (const path of ['sign-in', 'operator/sign-in']) {
      const declared = await SELF.fetch(`${D}/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `csrf=x&pad=${'a'.repeat(MAX_DASHBOARD_BODY_BYTES)}`,
      });
      expect(declared.status, path).toBe(413);
      const streamed = await SELF.fetch(`${D}/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: chunked(MAX_DASHBOARD_BODY_BYTES + 128 * 1024),
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status, path).toBe(413);
      expect(await streamed.text()).toContain(String(MAX_DASHBOARD_BODY_BYTES));
    }
  });

  it('refuses an oversized form of a signed-in admin and changes nothing; a form under the limit still works', async () => {
    const { id, accounts } = await seedTenant(['notes'], ['admin']);
    const { browser, csrf } = await signedIn(accounts.admin!);
    const before = (await adminCall('GET', `/tenants/${id}/keys`)).body.keys.length;
    const big = await browser.post(`${D}/t/${id}/keys`, { csrf, name: 'big', role: 'member', pad: 'a'.repeat(MAX_DASHBOARD_BODY_BYTES) });
    expect(big.status).toBe(413);
    expect((await adminCall('GET', `/tenants/${id}/keys`)).body.keys.length).toBe(before);
    const small = await browser.post(`${D}/t/${id}/keys`, { csrf, name: 'small', role: 'member', pad: 'a'.repeat(256 * 1024) });
    expect(small.status).toBe(201);
    expect((await adminCall('GET', `/tenants/${id}/keys`)).body.keys.length).toBe(before + 1);
  });
});
