/**
 * Is a URL host a public unicast address or a public DNS name? The one place that decides it, for
 * every outbound URL the platform accepts (upstream URLs, their OAuth token URLs). Deny by default:
 * an IP literal passes only inside the public unicast ranges, a name only when it is a well-formed
 * DNS name under a public top-level domain. Hosts are read after WHATWG URL parsing, which already
 * turns `0x7f.1`, `2130706433`, `0177.0.0.1` and `127.1` into `127.0.0.1` and compresses IPv6;
 * trailing dots are stripped here (`localhost.` is `localhost`).
 */

/** IPv4 ranges that are not public unicast (RFC 6890 special-purpose, multicast, reserved). */
const IPV4_DENIED: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // shared address space (CGN)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata)
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.31.196.0', 24], // AS112
  ['192.52.193.0', 24], // AMT
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['192.175.48.0', 24], // AS112 direct delegation
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255
];

function ipv4Number(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

function inV4(address: number, [base, bits]: [string, number]): boolean {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (address & mask) >>> 0 === (ipv4Number(base)! & mask) >>> 0;
}

/** True for an IPv4 address (dotted quad) in public unicast space. */
export function publicIpv4(text: string): boolean {
  const address = ipv4Number(text);
  return address !== null && !IPV4_DENIED.some((range) => inV4(address, range));
}

/** The eight 16-bit groups of an IPv6 address (embedded IPv4 tail allowed), or null if malformed. */
export function expandIpv6(text: string): number[] | null {
  let head = text.toLowerCase();
  const tail: number[] = [];
  const v4 = /^(.*:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(head);
  if (v4) {
    const n = ipv4Number(v4[2]!);
    if (n === null) return null;
    tail.push(n >>> 16, n & 0xffff);
    head = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1);
  }
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN)));
  const left = parse(halves[0]!);
  const right = halves.length === 2 ? parse(halves[1]!) : [];
  const given = left.length + right.length + tail.length;
  if ([...left, ...right].some(Number.isNaN)) return null;
  if (halves.length === 1 && given !== 8) return null;
  if (halves.length === 2 && given > 7) return null;
  return [...left, ...Array(8 - given).fill(0), ...right, ...tail];
}

/**
 * True for an IPv6 address in public unicast space: inside 2000::/3 (global unicast), and outside
 * the special-purpose blocks there: 2001::/23 (IETF protocol assignments, Teredo 2001::/32 among
 * them), 2001:db8::/32 and 3fff::/20 (documentation), 2002::/16 (6to4, which embeds an IPv4
 * address). Everything outside 2000::/3 is refused, which covers ::, ::1, IPv4-mapped ::ffff:0:0/96,
 * IPv4-compatible ::/96, the translation prefixes 64:ff9b::/96 and 64:ff9b:1::/48, discard-only
 * 100::/64, ULA fc00::/7, site-local fec0::/10, link-local fe80::/10 and multicast ff00::/8.
 */
export function publicIpv6(text: string): boolean {
  const g = expandIpv6(text);
  if (!g) return false;
  const [a, b] = [g[0]!, g[1]!];
  if ((a & 0xe000) !== 0x2000) return false;
  if (a === 0x2001 && b < 0x0200) return false; // 2001::/23
  if (a === 0x2001 && b === 0x0db8) return false; // 2001:db8::/32
  if (a === 0x2002) return false; // 2002::/16
  if ((a & 0xfff0) === 0x3ff0) return false; // 3fff::/20
  return true;
}

/** Top-level and special-use names that never name a public host (RFC 6761, 6762, 8375, 9476 and common private suffixes). */
const PRIVATE_SUFFIXES = new Set([
  'localhost',
  'local',
  'localdomain',
  'internal',
  'intranet',
  'lan',
  'home',
  'corp',
  'private',
  'test',
  'example',
  'invalid',
  'onion',
  'alt',
  'arpa',
]);
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** True for a well-formed DNS name (lower case, as WHATWG leaves it) under a public top-level domain. */
export function publicDnsName(name: string): boolean {
  if (name.length > 253) return false;
  const labels = name.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return false;
  const tld = labels[labels.length - 1]!;
  if (/^[0-9]+$/.test(tld) || PRIVATE_SUFFIXES.has(tld)) return false;
  if (labels.slice(-2).join('.') === 'home.arpa') return false;
  return true;
}

/** Null when a URL's hostname (as `URL.hostname` gives it) is public, else why not. */
export function hostProblem(hostname: string): string | null {
  const host = hostname.replace(/\.+$/, '');
  if (host.startsWith('[') && host.endsWith(']')) {
    return publicIpv6(host.slice(1, -1)) ? null : `"${hostname}" is not a public unicast IPv6 address`;
  }
  if (ipv4Number(host) !== null || /^[0-9.]+$/.test(host)) {
    return publicIpv4(host) ? null : `"${hostname}" is not a public IPv4 address`;
  }
  return publicDnsName(host) ? null : `"${hostname}" is not a public DNS name (private, loopback, special-use or malformed)`;
}
