import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { classifyAddress } from '../../src/upstream/address-class.ts';

const RFC1918 = 'private (RFC 1918)';
const PUBLIC = undefined;

// [range, name, first, last, just below (expected), just above (expected)]
type V4Row = [cidr: string, name: string, first: string, last: string, below: [string, string | undefined] | undefined, above: [string, string | undefined] | undefined];
const v4Ranges: V4Row[] = [
  ['0.0.0.0/8', 'this network', '0.0.0.1', '0.255.255.255', undefined, ['1.0.0.0', PUBLIC]],
  ['10.0.0.0/8', RFC1918, '10.0.0.0', '10.255.255.255', ['9.255.255.255', PUBLIC], ['11.0.0.0', PUBLIC]],
  ['100.64.0.0/10', 'CGNAT', '100.64.0.0', '100.127.255.255', ['100.63.255.255', PUBLIC], ['100.128.0.0', PUBLIC]],
  ['127.0.0.0/8', 'loopback', '127.0.0.0', '127.255.255.255', ['126.255.255.255', PUBLIC], ['128.0.0.0', PUBLIC]],
  ['169.254.0.0/16', 'link-local', '169.254.0.0', '169.254.255.255', ['169.253.255.255', PUBLIC], ['169.255.0.0', PUBLIC]],
  ['172.16.0.0/12', RFC1918, '172.16.0.0', '172.31.255.255', ['172.15.255.255', PUBLIC], ['172.32.0.0', PUBLIC]],
  ['192.0.0.0/24', 'IETF protocol assignments', '192.0.0.0', '192.0.0.255', ['191.255.255.255', PUBLIC], ['192.0.1.0', PUBLIC]],
  ['192.0.2.0/24', 'documentation', '192.0.2.0', '192.0.2.255', ['192.0.1.255', PUBLIC], ['192.0.3.0', PUBLIC]],
  ['192.88.99.0/24', 'reserved (6to4 relay anycast)', '192.88.99.0', '192.88.99.255', ['192.88.98.255', PUBLIC], ['192.88.100.0', PUBLIC]],
  ['192.168.0.0/16', RFC1918, '192.168.0.0', '192.168.255.255', ['192.167.255.255', PUBLIC], ['192.169.0.0', PUBLIC]],
  ['198.18.0.0/15', 'benchmarking', '198.18.0.0', '198.19.255.255', ['198.17.255.255', PUBLIC], ['198.20.0.0', PUBLIC]],
  ['198.51.100.0/24', 'documentation', '198.51.100.0', '198.51.100.255', ['198.51.99.255', PUBLIC], ['198.51.101.0', PUBLIC]],
  ['203.0.113.0/24', 'documentation', '203.0.113.0', '203.0.113.255', ['203.0.112.255', PUBLIC], ['203.0.114.0', PUBLIC]],
  ['224.0.0.0/4', 'multicast', '224.0.0.0', '239.255.255.255', ['223.255.255.255', PUBLIC], ['240.0.0.0', 'reserved']],
  ['240.0.0.0/4', 'reserved', '240.0.0.0', '255.255.255.254', ['239.255.255.255', 'multicast'], ['255.255.255.255', 'broadcast']],
  ['255.255.255.255/32', 'broadcast', '255.255.255.255', '255.255.255.255', ['255.255.255.254', 'reserved'], undefined],
  ['0.0.0.0/32', 'unspecified', '0.0.0.0', '0.0.0.0', undefined, ['0.0.0.1', 'this network']],
];

describe('classifyAddress: IPv4 ranges', () => {
  it.each(v4Ranges)('%s is %s at both ends, and its neighbours are not', (_cidr, name, first, last, below, above) => {
    expect(classifyAddress(first)).toBe(name);
    expect(classifyAddress(last)).toBe(name);
    if (below !== undefined) expect(classifyAddress(below[0])).toBe(below[1]);
    if (above !== undefined) expect(classifyAddress(above[0])).toBe(above[1]);
  });

  it.each(['1.1.1.1', '8.8.8.8', '93.184.215.14', '1.0.0.0', '223.255.255.255', '100.63.255.255', '172.32.0.1', '192.0.3.1'])('%s is public', (ip) => {
    expect(classifyAddress(ip)).toBeUndefined();
  });

  it('agrees with an independent BlockList of the same ranges on random addresses', () => {
    const reference = new BlockList();
    for (const [cidr] of v4Ranges) {
      const [net, bits] = cidr.split('/');
      reference.addSubnet(net ?? '', Number(bits), 'ipv4');
    }
    let seed = 12345;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    for (let i = 0; i < 50_000; i++) {
      // Half the samples inside the special ranges' neighbourhoods, half anywhere.
      const n = i % 2 === 0 ? random() : ((random() & 0x00ffffff) | ([0, 10, 100, 127, 169, 172, 192, 198, 203, 224, 240, 255][i % 12]! << 24)) >>> 0;
      const ip = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
      expect(classifyAddress(ip) !== undefined, ip).toBe(reference.check(ip, 'ipv4'));
    }
  });
});

type V6Row = [address: string, expected: string | undefined];
const v6Table: V6Row[] = [
  ['::', 'unspecified'],
  ['0:0:0:0:0:0:0:0', 'unspecified'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  // ULA fc00::/7
  ['fc00::', 'ULA'],
  ['fd12:3456:789a::1', 'ULA'],
  ['fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ULA'],
  ['fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'reserved'],
  ['fe00::', 'reserved'],
  // link-local fe80::/10
  ['fe80::', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'link-local'],
  ['fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'reserved'],
  ['fec0::', 'site-local (deprecated)'],
  ['feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'site-local (deprecated)'],
  // multicast ff00::/8
  ['ff00::', 'multicast'],
  ['ff02::1', 'multicast'],
  ['ff05::1:3', 'multicast'],
  ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'multicast'],
  // documentation 2001:db8::/32 and 3fff::/20
  ['2001:db8::', 'documentation'],
  ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', 'documentation'],
  ['2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', PUBLIC],
  ['2001:db9::', PUBLIC],
  ['3fff::', 'documentation'],
  ['3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff', 'documentation'],
  ['3fff:1000::', PUBLIC],
  ['3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff', PUBLIC],
  // discard-only 100::/64, and the rest of 100::/8 is reserved
  ['100::', 'discard-only'],
  ['100::ffff:ffff:ffff:ffff', 'discard-only'],
  ['100:0:0:1::', 'reserved'],
  ['ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'reserved'],
  // benchmarking 2001:2::/48, IETF protocol assignments 2001::/23
  ['2001:2::', 'benchmarking'],
  ['2001:2:0:ffff:ffff:ffff:ffff:ffff', 'benchmarking'],
  ['2001:2:1::', 'IETF protocol assignments'],
  ['2001:1::1', 'IETF protocol assignments'],
  ['2001:10::1', 'IETF protocol assignments'],
  ['2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff', 'IETF protocol assignments'],
  ['2001:200::', PUBLIC],
  // SRv6 SIDs 5f00::/16
  ['5f00::', 'SRv6 SID'],
  ['5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'SRv6 SID'],
  // outside 2000::/3
  ['1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'reserved'],
  ['2000::', PUBLIC],
  ['3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', PUBLIC],
  ['4000::', 'reserved'],
  ['8000::1', 'reserved'],
  // embedding forms at their edges
  ['::ffff:0.0.0.0', 'unspecified via IPv4-mapped (0.0.0.0)'],
  ['::ffff:ffff:ffff', 'broadcast via IPv4-mapped (255.255.255.255)'],
  ['::fffe:ffff:ffff', 'reserved'],
  ['::1:0:0:0', 'reserved'],
  ['::ffff:0:808:808', 'reserved'], // SIIT IPv4-translated: not a form sluice dials
  ['::2', 'this network via IPv4-compatible (0.0.0.2)'],
  ['::ffff', 'this network via IPv4-compatible (0.0.255.255)'],
  ['64:ff9b::', 'unspecified via NAT64 (0.0.0.0)'],
  ['64:ff9b::1:0:0', 'reserved'],
  ['64:ff9b:0:1::', 'reserved'],
  ['64:ff9b:1:1::808:808', 'local-use NAT64'],
  ['64:ff9b:1:0:0:1:808:808', 'local-use NAT64'],
  ['64:ff9b:1:ffff:ffff:ffff:ffff:ffff', 'local-use NAT64'],
  ['64:ff9b:2::808:808', 'reserved'],
  // public
  ['2606:4700:4700::1111', PUBLIC],
  ['2001:4860:4860::8888', PUBLIC],
  ['2a00:1450:4001:80b::200e', PUBLIC],
  ['2600::', PUBLIC],
];

describe('classifyAddress: IPv6 ranges', () => {
  it.each(v6Table)('%s -> %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });
});

/** Every form that carries an IPv4 address, written for a dotted quad. */
function embeddings(v4: string): [form: string, address: string][] {
  const [a = 0, b = 0, c = 0, d = 0] = v4.split('.').map(Number);
  const hi = ((a << 8) | b).toString(16);
  const lo = ((c << 8) | d).toString(16);
  const teredoHi = (~((a << 8) | b) & 0xffff).toString(16);
  const teredoLo = (~((c << 8) | d) & 0xffff).toString(16);
  return [
    ['IPv4-mapped', `::ffff:${v4}`],
    ['IPv4-mapped', `::ffff:${hi}:${lo}`],
    ['IPv4-mapped', `0:0:0:0:0:FFFF:${v4}`],
    ['IPv4-compatible', `::${v4}`],
    ['IPv4-compatible', `0:0:0:0:0:0:${hi}:${lo}`],
    ['NAT64', `64:ff9b::${v4}`],
    ['NAT64', `64:ff9b::${hi}:${lo}`],
    ['local-use NAT64', `64:ff9b:1::${v4}`],
    ['6to4', `2002:${hi}:${lo}::1`],
    ['6to4', `2002:${hi}:${lo}:ffff:ffff:ffff:ffff:ffff`],
    // Teredo: server 65.54.227.120, flags 8000, port obfuscated, client inverted.
    ['Teredo', `2001:0:4136:e378:8000:63bf:${teredoHi}:${teredoLo}`],
  ];
}

const privateV4: [string, string][] = [
  ['127.0.0.1', 'loopback'],
  ['10.0.0.5', RFC1918],
  ['172.16.0.1', RFC1918],
  ['192.168.1.1', RFC1918],
  ['169.254.169.254', 'link-local'],
  ['100.64.0.1', 'CGNAT'],
  ['198.18.0.1', 'benchmarking'],
  ['192.0.2.1', 'documentation'],
  ['224.0.0.1', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['0.1.2.3', 'this network'],
];
const publicV4 = ['1.1.1.1', '8.8.8.8', '93.184.215.14', '140.82.112.3'];

describe('classifyAddress: IPv6 forms that embed an IPv4 address', () => {
  for (const [v4, name] of privateV4) {
    it.each(embeddings(v4))(`refuses ${v4} (${name}) embedded as %s: %s`, (form, address) => {
      expect(classifyAddress(address)).toBe(`${name} via ${form} (${v4})`);
    });
  }
  for (const v4 of publicV4) {
    it.each(embeddings(v4))(`allows public ${v4} embedded as %s: %s`, (_form, address) => {
      expect(classifyAddress(address)).toBeUndefined();
    });
  }
});

describe('classifyAddress: input forms', () => {
  it('reads every textual form of one address alike (random addresses, three spellings each)', () => {
    let seed = 99;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 8;
    };
    const prefixes = [0x0000, 0x0064, 0x0100, 0x2001, 0x2002, 0x2606, 0x3fff, 0x5f00, 0xfc00, 0xfd00, 0xfe80, 0xfec0, 0xff02];
    for (let i = 0; i < 20_000; i++) {
      // Many zero words so that "::" compression lands in every position.
      const w = Array.from({ length: 8 }, () => (random() % 3 === 0 ? random() & 0xffff : 0));
      if (i % 2 === 0) w[0] = prefixes[random() % prefixes.length]!;
      if (i % 5 === 0) { w[1] = 0xff9b; w[0] = 0x64; }
      if (i % 7 === 0) { w[0] = 0; w[1] = 0; w[2] = 0; w[3] = 0; w[4] = 0; w[5] = random() % 2 === 0 ? 0xffff : 0; }
      const full = w.map((x) => x.toString(16).padStart(4, '0')).join(':');
      const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1);
      const w6 = w[6] ?? 0;
      const w7 = w[7] ?? 0;
      const quad = `${w.slice(0, 6).map((x) => x.toString(16)).join(':')}:${w6 >> 8}.${w6 & 255}.${w7 >> 8}.${w7 & 255}`;
      const expected = classifyAddress(full);
      expect(classifyAddress(compressed), `${full} as ${compressed}`).toBe(expected);
      expect(classifyAddress(quad), `${full} as ${quad}`).toBe(expected);
      expect(classifyAddress(full.toUpperCase()), full).toBe(expected);
    }
  });

  it.each(['', 'localhost', 'example.com', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', ':::', '1::2::3', '[::1]', '::1 ', 'fe80::1%'])(
    'never calls %j public',
    (input) => {
      expect(classifyAddress(input)).toBe('not an IP address');
    },
  );
});
