// Egress guard: address classification (IPv4, IPv6, IPv4 carried in IPv6) in both modes, and the
// guarded lookup (with a fake resolver: no DNS, no network).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  blockedClass,
  checkLiteralHost,
  classifyAddress,
  createGuardedLookup,
  EgressBlockedError,
  type AddressClass,
  type EgressPolicy,
  type ResolvedAddress,
  type Resolver,
} from '../../src/delivery/egress-guard.js';

const DEFAULT: EgressPolicy = { blockPrivateNetworks: false };
const STRICT: EgressPolicy = { blockPrivateNetworks: true };

/** address -> expected class. */
const CASES: ReadonlyArray<readonly [string, AddressClass]> = [
  // cloud metadata and link-local: always refused
  ['169.254.169.254', 'cloud-metadata'],
  ['169.254.170.2', 'cloud-metadata'],
  ['100.100.100.200', 'cloud-metadata'],
  ['fd00:ec2::254', 'cloud-metadata'],
  ['168.63.129.16', 'cloud-metadata'], // Azure wireserver
  ['::ffff:168.63.129.16', 'cloud-metadata'],
  ['FD00:EC2:0:0:0:0:0:254', 'cloud-metadata'],
  ['169.254.0.0', 'link-local'],
  ['169.254.1.1', 'link-local'],
  ['169.254.255.255', 'link-local'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['febf:ffff::1', 'link-local'],
  ['FE80::ABCD', 'link-local'],
  // IPv4 inside IPv6 is judged by the IPv4 address
  ['::ffff:169.254.169.254', 'cloud-metadata'],
  ['::ffff:a9fe:a9fe', 'cloud-metadata'],
  ['0:0:0:0:0:ffff:a9fe:a9fe', 'cloud-metadata'],
  ['::ffff:169.254.10.10', 'link-local'],
  ['::ffff:0:169.254.169.254', 'cloud-metadata'],
  ['64:ff9b::169.254.169.254', 'cloud-metadata'],
  ['64:ff9b::a9fe:1', 'link-local'],
  ['::169.254.169.254', 'cloud-metadata'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:10.1.2.3', 'private'],
  ['::ffff:192.168.0.1', 'private'],
  ['::ffff:8.8.8.8', 'public'],
  ['64:ff9b::8.8.8.8', 'public'],
  // loopback
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  // private
  ['10.0.0.0', 'private'],
  ['10.255.255.255', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['fec0::1', 'private'],
  // shared (CGNAT)
  ['100.64.0.1', 'shared'],
  ['100.127.255.255', 'shared'],
  // unique local
  ['fc00::1', 'unique-local'],
  ['fd12:3456::1', 'unique-local'],
  // unspecified / this network
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['::', 'unspecified'],
  // multicast and reserved (240.0.0.0/4, including the limited broadcast address)
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['ff02::1', 'multicast'],
  ['ff0e::101', 'multicast'],
  ['::ffff:224.0.0.251', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'reserved'],
  ['::ffff:255.255.255.255', 'reserved'],
  ['::ffff:0.0.0.0', 'unspecified'],
  ['64:ff9b::240.0.0.1', 'reserved'],
  // public, including the neighbours of every range
  ['8.8.8.8', 'public'],
  ['1.1.1.1', 'public'],
  ['169.253.255.255', 'public'],
  ['169.255.0.0', 'public'],
  ['172.15.255.255', 'public'],
  ['172.32.0.0', 'public'],
  ['192.167.255.255', 'public'],
  ['192.169.0.0', 'public'],
  ['100.63.255.255', 'public'],
  ['100.128.0.0', 'public'],
  ['11.0.0.0', 'public'],
  ['126.255.255.255', 'public'],
  ['128.0.0.0', 'public'],
  ['1.0.0.0', 'public'],
  ['2001:4860:4860::8888', 'public'],
  ['2606:4700::1111', 'public'],
  ['fe7f:ffff::1', 'public'],
  ['168.63.129.15', 'public'],
  ['168.63.129.17', 'public'],
  ['223.255.255.255', 'public'],
  ['fb00::1', 'public'],
  ['fe00::1', 'public'],
  ['::2', 'unspecified'], // ::0.0.0.2, the IPv4-compatible form of 0.0.0.2
  ['2002:a9fe:a9fe::1', 'public'],
];

const ALWAYS = new Set<AddressClass>(['cloud-metadata', 'link-local', 'multicast', 'reserved', 'unspecified']);

void describe('egress guard: classifyAddress', () => {
  for (const [ip, cls] of CASES) {
    void it(`${ip} is ${cls}`, () => {
      assert.equal(classifyAddress(ip), cls);
    });
  }

  void it('bracketed IPv6 literals are classified like bare ones', () => {
    assert.equal(classifyAddress('[::1]'), 'loopback');
    assert.equal(classifyAddress('[::ffff:a9fe:a9fe]'), 'cloud-metadata');
  });

  void it('non-addresses are not classified', () => {
    for (const s of [
      'localhost',
      'example.com',
      '',
      '1.2.3',
      '256.1.1.1',
      '1.2.3.4.5',
      ':::1',
      'fe80::1::2',
      '12345::1',
      '[::1',
      '0x7f.0.0.1',
    ]) {
      assert.equal(classifyAddress(s), undefined, s);
    }
  });
});

void describe('egress guard: blockedClass in both modes', () => {
  void it('default mode refuses link-local, cloud metadata, multicast, reserved and unspecified addresses only', () => {
    for (const [ip, cls] of CASES) assert.equal(blockedClass(ip, DEFAULT), ALWAYS.has(cls) ? cls : undefined, ip);
  });

  void it('with blockPrivateNetworks everything but public addresses is refused', () => {
    for (const [ip, cls] of CASES) assert.equal(blockedClass(ip, STRICT), cls === 'public' ? undefined : cls, ip);
  });

  void it('a host name is never judged by its spelling (only its resolved addresses are)', () => {
    assert.equal(blockedClass('metadata.google.internal', STRICT), undefined);
  });
});

void describe('egress guard: checkLiteralHost', () => {
  void it('refuses IP literals by class, with a message naming address and class', () => {
    const err = checkLiteralHost('169.254.169.254', DEFAULT);
    assert.ok(err instanceof EgressBlockedError);
    assert.equal(err.code, 'UCW_EGRESS_BLOCKED');
    assert.equal(err.addressClass, 'cloud-metadata');
    assert.match(
      err.message,
      /^destination 169\.254\.169\.254 is a cloud metadata address; such addresses are never delivered to/,
    );
    assert.equal(checkLiteralHost('168.63.129.16', DEFAULT)?.addressClass, 'cloud-metadata');
    assert.equal(checkLiteralHost('0.0.0.0', DEFAULT)?.addressClass, 'unspecified');
    assert.equal(checkLiteralHost('[::]', DEFAULT)?.addressClass, 'unspecified');
    assert.equal(checkLiteralHost('255.255.255.255', DEFAULT)?.addressClass, 'reserved');
    assert.equal(checkLiteralHost('[ff02::1]', DEFAULT)?.addressClass, 'multicast');
    assert.equal(checkLiteralHost('[::ffff:a9fe:a9fe]', DEFAULT)?.addressClass, 'cloud-metadata');
    assert.equal(checkLiteralHost('127.0.0.1', DEFAULT), undefined);
    const strict = checkLiteralHost('127.0.0.1', STRICT);
    assert.equal(strict?.addressClass, 'loopback');
    assert.match(strict?.message ?? '', /a loopback address .*--block-private-networks/);
  });

  void it('leaves host names to the lookup', () => {
    assert.equal(checkLiteralHost('localhost', STRICT), undefined);
    assert.equal(checkLiteralHost('example.com', STRICT), undefined);
  });
});

void describe('egress guard: guarded lookup', () => {
  const fake = (
    table: Record<string, ResolvedAddress[]>,
  ): Resolver & { calls: Array<{ host: string; family: number | undefined }> } => {
    const calls: Array<{ host: string; family: number | undefined }> = [];
    const r: Resolver = (host, options, cb) => {
      calls.push({ host, family: options.family });
      const addrs = table[host];
      setImmediate(() => {
        if (!addrs) cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), []);
        else
          cb(
            null,
            addrs.filter((a) => options.family === undefined || a.family === options.family),
          );
      });
    };
    return Object.assign(r, { calls });
  };
  const table = {
    'public.test': [
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ],
    'metadata.test': [{ address: '169.254.169.254', family: 4 }],
    'rebind.test': [
      { address: '93.184.216.34', family: 4 },
      { address: '::ffff:169.254.169.254', family: 6 },
    ],
    'local.test': [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ],
    'empty.test': [],
  };

  type Result = { err: NodeJS.ErrnoException | null; address: unknown; family: number | undefined };
  const run = (policy: EgressPolicy, host: string, options: Record<string, unknown>): Promise<Result> =>
    new Promise((resolve) => {
      createGuardedLookup(policy, fake(table))(host, options, (err, address, family) =>
        resolve({ err, address, family }),
      );
    });

  void it('answers like dns.lookup: one address, or all of them with all: true', async () => {
    const one = await run(DEFAULT, 'public.test', {});
    assert.equal(one.err, null);
    assert.equal(one.address, '93.184.216.34');
    assert.equal(one.family, 4);
    const all = await run(DEFAULT, 'public.test', { all: true });
    assert.deepEqual(all.address, table['public.test']);
    const v6 = await run(DEFAULT, 'public.test', { family: 6 });
    assert.equal(v6.address, '2606:2800:220:1::1');
  });

  void it('refuses a name resolving to a metadata address, or mixing one in (rebinding)', async () => {
    for (const host of ['metadata.test', 'rebind.test']) {
      for (const options of [{}, { all: true }]) {
        const r = await run(DEFAULT, host, options);
        assert.ok(r.err instanceof EgressBlockedError, `${host} ${JSON.stringify(options)}`);
        assert.equal(r.err.addressClass, 'cloud-metadata');
        assert.match(r.err.message, new RegExp(`^destination ${host.replace('.', '\\.')} resolves to `));
      }
    }
  });

  void it('loopback names pass by default and are refused with blockPrivateNetworks', async () => {
    assert.equal((await run(DEFAULT, 'local.test', { all: true })).err, null);
    const r = await run(STRICT, 'local.test', { all: true });
    assert.ok(r.err instanceof EgressBlockedError);
    assert.equal(r.err.addressClass, 'loopback');
  });

  void it('resolution errors and empty answers are passed on as DNS errors', async () => {
    assert.equal((await run(DEFAULT, 'missing.test', {})).err?.code, 'ENOTFOUND');
    assert.equal((await run(DEFAULT, 'empty.test', {})).err?.code, 'ENOTFOUND');
  });

  void it('the real resolver refuses localhost with blockPrivateNetworks (no fake)', async () => {
    const r = await new Promise<Result>((resolve) =>
      createGuardedLookup(STRICT)('localhost', { all: true }, (err, address, family) =>
        resolve({ err, address, family }),
      ),
    );
    assert.ok(r.err instanceof EgressBlockedError, String(r.err));
    assert.equal(r.err.addressClass, 'loopback');
  });
});
