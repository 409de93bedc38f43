// Egress guard: which destination addresses the bridge refuses to deliver to. Pure classification of
// IPv4/IPv6 addresses (IPv4-mapped, -translated, -compatible and NAT64 forms are judged by the IPv4
// address they carry), plus a DNS `lookup` for net/tls.connect that resolves a host name and fails
// if any resolved address is refused. The HTTP sender enforces both inside its connector, so the
// address checked is the address connected to (no time-of-check/time-of-use gap). No undici here.
//
// Always refused: cloud metadata addresses, link-local ranges (169.254.0.0/16, fe80::/10), multicast
// (224.0.0.0/4, ff00::/8), reserved 240.0.0.0/4 (with 255.255.255.255) and the unspecified / "this
// network" addresses (0.0.0.0/8, ::; connecting to them reaches the local host).
// With blockPrivateNetworks also: loopback, RFC 1918 private, carrier-grade NAT, IPv6 unique local
// (and deprecated site-local).

import dns from 'node:dns';
import net from 'node:net';

export type AddressClass =
  | 'public'
  | 'cloud-metadata'
  | 'link-local'
  | 'loopback'
  | 'private'
  | 'shared'
  | 'unique-local'
  | 'unspecified'
  | 'multicast'
  | 'reserved';

export interface EgressPolicy {
  /** Also refuse loopback, private, shared (CGNAT) and unique local addresses. */
  readonly blockPrivateNetworks: boolean;
}

/** Error code on EgressBlockedError; the sender maps it to UCW_ERR_DELIVERY_BLOCKED. */
export const EGRESS_BLOCKED_CODE = 'UCW_EGRESS_BLOCKED';

const ALWAYS_BLOCKED: ReadonlySet<AddressClass> = new Set([
  'cloud-metadata',
  'link-local',
  'multicast',
  'reserved',
  'unspecified',
]);

const CLASS_DESCRIPTIONS: Readonly<Record<AddressClass, string>> = {
  public: 'a public address',
  'cloud-metadata': 'a cloud metadata address',
  'link-local': 'a link-local address (169.254.0.0/16, fe80::/10)',
  loopback: 'a loopback address (127.0.0.0/8, ::1)',
  private: 'a private network address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)',
  shared: 'a carrier-grade NAT address (100.64.0.0/10)',
  'unique-local': 'an IPv6 unique local address (fc00::/7)',
  unspecified: 'an unspecified / "this network" address (0.0.0.0/8, ::)',
  multicast: 'a multicast address (224.0.0.0/4, ff00::/8)',
  reserved: 'a reserved or broadcast address (240.0.0.0/4)',
};

/** Human description of an address class, for error messages ("a link-local address (...)"). */
export function describeAddressClass(cls: AddressClass): string {
  return CLASS_DESCRIPTIONS[cls];
}

// ---- IPv4 ----

function parseIPv4(ip: string): number | undefined {
  if (!net.isIPv4(ip)) return undefined;
  const parts = ip.split('.').map(Number);
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

function inV4(addr: number, base: string, bits: number): boolean {
  const b = parseIPv4(base)!;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return (addr & mask) >>> 0 === (b & mask) >>> 0;
}

/**
 * Instance metadata endpoints: AWS/GCP/Azure/Oracle, AWS ECS task metadata, Alibaba Cloud (in
 * 100.64.0.0/10), Azure's wireserver (168.63.129.16, a public address that answers VMs only).
 */
const V4_METADATA = new Set(
  ['169.254.169.254', '169.254.170.2', '100.100.100.200', '168.63.129.16'].map((a) => parseIPv4(a)!),
);

function classifyV4(addr: number): AddressClass {
  if (V4_METADATA.has(addr)) return 'cloud-metadata';
  if (inV4(addr, '169.254.0.0', 16)) return 'link-local';
  if (inV4(addr, '127.0.0.0', 8)) return 'loopback';
  if (inV4(addr, '10.0.0.0', 8) || inV4(addr, '172.16.0.0', 12) || inV4(addr, '192.168.0.0', 16)) return 'private';
  if (inV4(addr, '100.64.0.0', 10)) return 'shared';
  if (inV4(addr, '0.0.0.0', 8)) return 'unspecified';
  if (inV4(addr, '224.0.0.0', 4)) return 'multicast';
  if (inV4(addr, '240.0.0.0', 4)) return 'reserved';
  return 'public';
}

// ---- IPv6 ----

/** Eight 16-bit groups of a valid IPv6 address (zone id ignored), or undefined. */
function parseIPv6(input: string): number[] | undefined {
  const ip = input.replace(/%.*$/, '');
  if (!net.isIPv6(ip)) return undefined;
  let text = ip.toLowerCase();
  // A trailing dotted IPv4 part stands for the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = parseIPv4(dotted[1]!);
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, dotted.index)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : halves[1]!.split(':')) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail].map((g) =>
    parseInt(g, 16),
  );
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

function groupsEqual(groups: readonly number[], prefix: readonly number[]): boolean {
  return prefix.every((g, i) => groups[i] === g);
}

const V6_METADATA = [[0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254]]; // AWS IMDS over IPv6

/** The IPv4 address an IPv6 address carries and would reach, if any. */
function embeddedV4(g: readonly number[]): number | undefined {
  const low = (((g[6]! << 16) >>> 0) + g[7]!) >>> 0;
  // ::ffff:a.b.c.d (mapped) and ::ffff:0:a.b.c.d (SIIT translated)
  if (groupsEqual(g, [0, 0, 0, 0, 0, 0xffff]) || groupsEqual(g, [0, 0, 0, 0, 0xffff, 0])) return low;
  // 64:ff9b::a.b.c.d (NAT64 well-known prefix)
  if (groupsEqual(g, [0x64, 0xff9b, 0, 0, 0, 0])) return low;
  // ::a.b.c.d (deprecated IPv4-compatible), but not :: and ::1
  if (groupsEqual(g, [0, 0, 0, 0, 0, 0]) && !(g[6] === 0 && g[7]! <= 1)) return low;
  return undefined;
}

function classifyV6(g: readonly number[]): AddressClass {
  const v4 = embeddedV4(g);
  if (v4 !== undefined) return classifyV4(v4);
  if (V6_METADATA.some((m) => groupsEqual(g, m))) return 'cloud-metadata';
  if (g.every((x) => x === 0)) return 'unspecified';
  if (groupsEqual(g, [0, 0, 0, 0, 0, 0, 0, 1])) return 'loopback';
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local';
  if ((g[0]! & 0xfe00) === 0xfc00) return 'unique-local';
  if ((g[0]! & 0xffc0) === 0xfec0) return 'private'; // deprecated site-local
  if ((g[0]! & 0xff00) === 0xff00) return 'multicast';
  return 'public';
}

/**
 * The class of an IP address (IPv4 dotted quad or IPv6, with or without brackets), or undefined when
 * `ip` is not an IP address.
 */
export function classifyAddress(ip: string): AddressClass | undefined {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const v4 = parseIPv4(bare);
  if (v4 !== undefined) return classifyV4(v4);
  const v6 = parseIPv6(bare);
  return v6 === undefined ? undefined : classifyV6(v6);
}

/** The class that makes `ip` refused under `policy`, or undefined when it may be connected to. */
export function blockedClass(ip: string, policy: EgressPolicy): AddressClass | undefined {
  const cls = classifyAddress(ip);
  if (cls === undefined || cls === 'public') return undefined;
  if (ALWAYS_BLOCKED.has(cls) || policy.blockPrivateNetworks) return cls;
  return undefined;
}

/** A refused destination. `message` names the host, the address and its class; never the URL. */
export class EgressBlockedError extends Error {
  readonly code = EGRESS_BLOCKED_CODE;
  readonly address: string;
  readonly addressClass: AddressClass;

  constructor(host: string, address: string, addressClass: AddressClass) {
    const via = host === address ? `${address} is` : `${host} resolves to ${address},`;
    const why = ALWAYS_BLOCKED.has(addressClass)
      ? 'such addresses are never delivered to'
      : 'private and loopback addresses are refused with --block-private-networks';
    super(`destination ${via} ${describeAddressClass(addressClass)}; ${why}`);
    this.name = 'EgressBlockedError';
    this.address = address;
    this.addressClass = addressClass;
  }
}

/** For an IP-literal host (which net.connect never looks up): the refusal, if any. */
export function checkLiteralHost(host: string, policy: EgressPolicy): EgressBlockedError | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (net.isIP(bare.replace(/%.*$/, '')) === 0) return undefined;
  const cls = blockedClass(bare, policy);
  return cls === undefined ? undefined : new EgressBlockedError(bare, bare, cls);
}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}

/** dns.lookup with `all: true`, injectable for tests. */
export type Resolver = (
  hostname: string,
  options: { family?: number | undefined; hints?: number | undefined },
  callback: (err: NodeJS.ErrnoException | null, addresses: ResolvedAddress[]) => void,
) => void;

const systemResolver: Resolver = (hostname, options, callback) => {
  const opts: dns.LookupAllOptions = { all: true };
  if (options.family === 4 || options.family === 6) opts.family = options.family;
  if (options.hints !== undefined) opts.hints = options.hints;
  dns.lookup(hostname, opts, callback);
};

/** The `lookup` option of net.connect / tls.connect (one address, or all of them with `all: true`). */
export type GuardedLookup = net.LookupFunction;

/**
 * A `lookup` for net/tls.connect: resolves every address of `hostname` and fails with an
 * EgressBlockedError when any of them is refused (a name that mixes public and refused addresses is
 * treated as hostile: DNS rebinding), else answers as dns.lookup would (all, or the first one).
 */
export function createGuardedLookup(policy: EgressPolicy, resolve: Resolver = systemResolver): GuardedLookup {
  return (hostname, options, callback) => {
    const family = typeof options === 'object' && options !== null ? options.family : undefined;
    const hints = typeof options === 'object' && options !== null ? options.hints : undefined;
    const wantAll = typeof options === 'object' && options !== null && options.all === true;
    const fam = family === 'IPv4' ? 4 : family === 'IPv6' ? 6 : typeof family === 'number' ? family : undefined;
    resolve(hostname, { family: fam, hints }, (err, addresses) => {
      if (err) return callback(err, wantAll ? [] : '');
      for (const a of addresses) {
        const cls = blockedClass(a.address, policy);
        if (cls !== undefined) return callback(new EgressBlockedError(hostname, a.address, cls), wantAll ? [] : '');
      }
      const first = addresses[0];
      if (first === undefined) {
        const none: NodeJS.ErrnoException = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
          code: 'ENOTFOUND',
        });
        return callback(none, wantAll ? [] : '');
      }
      if (wantAll)
        return callback(
          null,
          addresses.map((a) => ({ address: a.address, family: a.family })),
        );
      return callback(null, first.address, first.family);
    });
  };
}
