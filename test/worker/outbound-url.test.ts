import { describe, expect, it } from 'vitest';
import { expandIpv6 } from '../../src/gateway/public-address';
import { upstreamUrlProblem } from '../../src/gateway/upstream-url';
import { adminCall, seedTenant } from './platform-client';

/**
 * Review finding 10: the SSRF rules let through names with a trailing dot and IPv6 forms that
 * embed IPv4 or private ranges. Every outbound URL (upstream URLs and their OAuth token URLs) now
 * goes through one deny-by-default check: a public unicast address or a public DNS name. These
 * run inside workerd, so `new URL` is the runtime's own WHATWG parser.
 */

const refused = (raw: string) => upstreamUrlProblem(raw, false);

describe('outbound URL rules (production mode), table-driven', () => {
  it.each([
    // The review's forms.
    'https://localhost./mcp',
    'https://metadata.google.internal./computeMetadata/v1/',
    'https://[::7f00:1]/mcp',
    'https://[::127.0.0.1]/mcp',
    'https://[::ffff:0:7f00:1]/mcp',
    'https://[64:ff9b::a9fe:a9fe]/mcp',
    'https://[2002:a9fe:a9fe::]/mcp',
    'https://[fec0::1]/mcp',
    // Trailing dots and special-use names.
    'https://localhost../mcp',
    'https://LOCALHOST/mcp',
    'https://api.localhost./mcp',
    'https://metadata.google.internal/mcp',
    'https://printer.local./mcp',
    'https://router.home.arpa/mcp',
    'https://nas.lan/mcp',
    'https://svc.corp/mcp',
    'https://x.test/mcp',
    'https://x.example/mcp',
    'https://x.invalid/mcp',
    'https://abc.onion/mcp',
    'https://1.0.0.127.in-addr.arpa/mcp',
    'https://printer/mcp',
    'https://under_score.example.com/mcp',
    // IPv4 in every notation WHATWG accepts.
    'https://127.0.0.1/mcp',
    'https://127.1/mcp',
    'https://127.0.0.1./mcp',
    'https://2130706433/mcp',
    'https://0x7f000001/mcp',
    'https://0x7f.1/mcp',
    'https://0177.0.0.1/mcp',
    'https://017700000001/mcp',
    'https://0/mcp',
    'https://0.0.0.0/mcp',
    'https://10.0.0.1/mcp',
    'https://100.64.0.1/mcp',
    'https://169.254.169.254/latest/meta-data',
    'https://0xa9.0xfe.0xa9.0xfe/mcp',
    'https://2852039166/mcp',
    'https://172.16.0.1/mcp',
    'https://172.31.255.255/mcp',
    'https://192.0.0.8/mcp',
    'https://192.0.2.1/mcp',
    'https://192.88.99.1/mcp',
    'https://192.168.0.1/mcp',
    'https://198.18.0.1/mcp',
    'https://198.51.100.7/mcp',
    'https://203.0.113.9/mcp',
    'https://224.0.0.1/mcp',
    'https://239.255.255.250/mcp',
    'https://240.0.0.1/mcp',
    'https://255.255.255.255/mcp',
    'https://%31%32%37.0.0.1/mcp',
    // IPv6: loopback, unspecified, mapped, compatible, translated, 6to4, Teredo, ULA, site- and link-local, multicast, documentation.
    'https://[::1]/mcp',
    'https://[0:0:0:0:0:0:0:1]/mcp',
    'https://[::]/mcp',
    'https://[::ffff:127.0.0.1]/mcp',
    'https://[::ffff:7f00:1]/mcp',
    'https://[::ffff:a9fe:a9fe]/mcp',
    'https://[::ffff:8.8.8.8]/mcp',
    'https://[::8.8.8.8]/mcp',
    'https://[::ffff:0:8.8.8.8]/mcp',
    'https://[64:ff9b::127.0.0.1]/mcp',
    'https://[64:ff9b::808:808]/mcp',
    'https://[64:ff9b:1::a9fe:a9fe]/mcp',
    'https://[2002:7f00:1::]/mcp',
    'https://[2002::1]/mcp',
    'https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/mcp',
    'https://[2001::1]/mcp',
    'https://[2001:db8::1]/mcp',
    'https://[3fff::1]/mcp',
    'https://[fc00::1]/mcp',
    'https://[fd12:3456::1]/mcp',
    'https://[fe80::1]/mcp',
    'https://[febf::1]/mcp',
    'https://[fec0::1]/mcp',
    'https://[feff::1]/mcp',
    'https://[ff02::1]/mcp',
    'https://[100::1]/mcp',
    'https://[::1%25eth0]/mcp',
    // Not https, credentials, other schemes, garbage.
    'http://mcp.example.com/mcp',
    'https://user:pass@mcp.example.com/mcp',
    'ftp://mcp.example.com/',
    'file:///etc/passwd',
    'not a url',
  ])('refuses %s', (raw) => {
    expect(refused(raw), raw).not.toBeNull();
  });

  it.each([
    'https://mcp.example.com/mcp',
    'https://MCP.Example.COM./mcp',
    'https://api.github.com/mcp',
    'https://xn--bcher-kva.example/mcp'.replace('.example', '.de'),
    'https://bücher.de/mcp',
    'https://8.8.8.8/mcp',
    'https://1.1.1.1:8443/mcp',
    'https://134744072/mcp',
    'https://[2606:4700:4700::1111]/mcp',
    'https://[2001:4860:4860::8888]/mcp',
    'https://[2a00:1450:4001:82a::200e]/mcp',
  ])('accepts %s', (raw) => {
    expect(refused(raw), raw).toBeNull();
  });

  it('lifts the rules only when private upstreams are allowed (local development and tests)', () => {
    expect(upstreamUrlProblem('http://127.0.0.1:8080/mcp', true)).toBeNull();
    expect(upstreamUrlProblem('ftp://127.0.0.1/', true)).not.toBeNull();
  });

  it.each([
    ['::1', [0, 0, 0, 0, 0, 0, 0, 1]],
    ['::ffff:127.0.0.1', [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]],
    ['64:ff9b::a9fe:a9fe', [0x64, 0xff9b, 0, 0, 0, 0, 0xa9fe, 0xa9fe]],
    ['2001:db8:0:0:1:0:0:1', [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]],
    ['1:2:3:4:5:6:7:8:9', null],
    ['1::2::3', null],
    ['::ffff:300.0.0.1', null],
  ] as const)('expands %s', (text, groups) => {
    expect(expandIpv6(text)).toEqual(groups);
  });
});

describe('outbound URL rules through the admin API', () => {
  const forms = [
    'https://localhost./mcp',
    'https://metadata.google.internal./x',
    'https://[::7f00:1]/mcp',
    'https://[::127.0.0.1]/mcp',
    'https://[::ffff:0:7f00:1]/mcp',
    'https://[64:ff9b::a9fe:a9fe]/mcp',
    'https://[2002:a9fe:a9fe::]/mcp',
    'https://[fec0::1]/mcp',
  ];

  it('refuses every form as an upstream URL, an OAuth token URL, and in a PATCH', async () => {
    const { id } = await seedTenant([]);
    const name = `up-${crypto.randomUUID().slice(0, 8)}`;
    expect((await adminCall('POST', `/tenants/${id}/upstreams`, { name, url: 'https://mcp.example.com/mcp' })).status).toBe(201);
    for (const url of forms) {
      const asUrl = await adminCall('POST', `/tenants/${id}/upstreams`, { name: `up-${crypto.randomUUID().slice(0, 8)}`, url });
      expect(asUrl.status, url).toBe(400);
      expect(asUrl.body.error.code).toBe('url_refused');
      const asToken = await adminCall('POST', `/tenants/${id}/upstreams`, {
        name: `up-${crypto.randomUUID().slice(0, 8)}`,
        url: 'https://mcp.example.com/mcp',
        credentials: { kind: 'oauth-client-credentials', tokenUrl: url, clientId: 'c', clientSecret: 's' },
      });
      expect(asToken.status, url).toBe(400);
      expect(asToken.body.error.message).toContain('credentials.tokenUrl');
      const patched = await adminCall('PATCH', `/tenants/${id}/upstreams/${name}`, { url });
      expect(patched.status, url).toBe(400);
    }
    expect((await adminCall('GET', `/tenants/${id}/upstreams/${name}`)).body.url).toBe('https://mcp.example.com/mcp');
  });
});
