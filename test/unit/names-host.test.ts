import { describe, expect, it } from 'vitest';
import { checkHostPattern, hostPatternsOverlap, isDnsName, isIpLiteral, normalizeHost, normalizeHostPattern, splitHostPort } from '../../src/names/host.ts';

describe('normalizeHost', () => {
  it.each([
    ['api.anthropic.com', 'api.anthropic.com'],
    ['API.Anthropic.COM', 'api.anthropic.com'],
    ['api.anthropic.com.', 'api.anthropic.com'],
    ['GitHub.com.', 'github.com'],
    ['bücher.de', 'xn--bcher-kva.de'],
    ['BÜCHER.de', 'xn--bcher-kva.de'],
    ['xn--bcher-kva.de', 'xn--bcher-kva.de'],
    ['faß.de', 'xn--fa-hia.de'],
    ['ａｐｉ．example．com', 'api.example.com'],
    ['_dmarc.example.com', '_dmarc.example.com'],
    ['localhost', 'localhost'],
    ['foo.123abc', 'foo.123abc'],
    ['a'.repeat(63) + '.com', 'a'.repeat(63) + '.com'],
    // IPv4 literals and the numeric forms a resolver would read as IPv4 become dotted quads,
    // so a name can never hide an address from classification.
    ['127.0.0.1', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['0x7f.1', '127.0.0.1'],
    ['0x7f.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['1.2.3', '1.2.0.3'],
    // IPv6 literals (bare) in canonical text.
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::FFFF:127.0.0.1', '::ffff:7f00:1'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeHost(input)).toBe(expected);
  });

  it('returns the very same string for an already normal name (no allocation on the hot path)', () => {
    const name = ['api', 'example', 'com'].join('.');
    expect(normalizeHost(name)).toBe(name);
  });

  it.each([
    [''],
    ['.'],
    ['..'],
    ['a..b'],
    ['.a.com'],
    ['a.com..'],
    ['a'.repeat(64) + '.com'],
    [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`], // 254
    ['a b.com'],
    ['a/b.com'],
    ['a@b.com'],
    ['user:pw@b.com'],
    ['a:b'],
    ['example.com:443'],
    ['[::1]'],
    ['*.example.com'],
    ['a%41.com'],
    ['a\u0000b.com'],
    ['1.2.3.256'],
    ['a.1'],
    ['fe80::1%eth0'],
    ['a?b.com'],
    ['a#b.com'],
    ['a\\b.com'],
    ['a／b.com'],
    ['a\tb.com'],
  ])('refuses %j', (input) => {
    expect(normalizeHost(input)).toBeUndefined();
  });

  it('accepts a 253-octet name and a trailing dot on it', () => {
    const name = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(name.length).toBe(253);
    expect(normalizeHost(name)).toBe(name);
    expect(normalizeHost(`${name}.`)).toBe(name);
  });
});

describe('normalizeHostPattern', () => {
  it.each([
    ['*.Example.COM', '*.example.com'],
    ['*.example.com.', '*.example.com'],
    ['*.bücher.de', '*.xn--bcher-kva.de'],
    ['api.example.com', 'api.example.com'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeHostPattern(input)).toBe(expected);
  });

  it.each([['*'], ['*.'], ['*.*.com'], ['a.*.com'], ['*.10.0.0.1'], ['**.com']])('refuses %j', (input) => {
    expect(normalizeHostPattern(input)).toBeUndefined();
  });
});

describe('checkHostPattern', () => {
  it.each(['API.Example.COM.', 'bücher.de', 'a_b.example', '10.0.0.5', '2001:DB8::0:1', 'xn--bcher-kva.de', 'git-server.internal'])(
    'gives %j the normal form a request for that name arrives in, so the rule can match it',
    (name) => {
      expect(checkHostPattern(name)).toEqual({ ok: true, pattern: normalizeHost(name) });
      if (!isIpLiteral(normalizeHost(name) ?? '')) expect(checkHostPattern(`*.${name}`)).toEqual({ ok: true, pattern: `*.${normalizeHost(name)}` });
    },
  );

  it.each([
    ['', 'empty'],
    ['*', 'everything'],
    ['*.10.0.0.1', 'wildcard_address'],
    ['fe80::1%eth0', 'address_zone'],
    ['a.*.com', 'inner_star'],
    ['https://a.com', 'stray_character'],
    ['example.123', 'numeric_last_label'],
    ['0x7f.1', 'numeric_last_label'],
    ['-x.example.com', 'bad_label'],
    ['a..com', 'bad_label'],
  ])('refuses %j (%s), stricter than names on the wire', (input, kind) => {
    const checked = checkHostPattern(input);
    expect(checked.ok ? undefined : checked.problem.kind).toBe(kind);
  });
});

describe('isDnsName', () => {
  it.each([['api.example.com', true], ['1.2.3.example', true], ['my_host.internal', true], ['1.2.3.4', false], ['-x.example.com', false], ['Api.example.com', false], ['example.com.', false], ['*.example.com', false]])(
    '%j -> %s', (name, expected) => {
      expect(isDnsName(name)).toBe(expected);
    },
  );
});

describe('hostPatternsOverlap', () => {
  it.each([
    ['api.example.com', 'api.example.com', true],
    ['*.example.com', 'api.example.com', true],
    ['*.example.com', 'a.b.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'badexample.com', false],
    ['*.a.example.com', '*.example.com', true],
    ['*.example.com', '*.example.org', false],
  ])('%j and %j -> %s, either way round', (a, b, expected) => {
    expect(hostPatternsOverlap(a, b)).toBe(expected);
    expect(hostPatternsOverlap(b, a)).toBe(expected);
  });
});

describe('splitHostPort', () => {
  it.each([
    ['example.com', 'example.com', undefined],
    ['Example.COM:8080', 'example.com', 8080],
    ['example.com.:443', 'example.com', 443],
    ['example.com:', 'example.com', undefined],
    ['example.com:1', 'example.com', 1],
    ['example.com:65535', 'example.com', 65535],
    ['127.0.0.1:80', '127.0.0.1', 80],
    ['[::1]', '::1', undefined],
    ['[::1]:8080', '::1', 8080],
    ['[2001:DB8::1]:443', '2001:db8::1', 443],
    ['[::ffff:127.0.0.1]:80', '::ffff:7f00:1', 80],
  ])('%s -> host %s, port %s', (input, host, port) => {
    expect(splitHostPort(input)).toEqual({ host, port });
  });

  it.each([
    [''],
    [':80'],
    ['example.com:0'],
    ['example.com:65536'],
    ['example.com:123456'],
    ['example.com:8o'],
    ['example.com:+80'],
    ['example.com:80:80'],
    ['::1'],
    ['::1:8080'],
    ['[::1'],
    ['[::1]x'],
    ['[::1]:'.concat('x')],
    ['[example.com]:80'],
    ['[fe80::1%25eth0]:80'],
    ['user@example.com'],
    ['user@example.com:80'],
    ['example.com/path'],
  ])('refuses %j', (input) => {
    expect(splitHostPort(input)).toBeUndefined();
  });
});

describe('isIpLiteral', () => {
  it.each([
    ['127.0.0.1', true],
    ['::1', true],
    ['2001:db8::1', true],
    ['::ffff:1.2.3.4', true],
    ['example.com', false],
    ['[::1]', false],
    ['1.2.3', false],
    ['', false],
  ])('%s -> %s', (input, expected) => {
    expect(isIpLiteral(input)).toBe(expected);
  });
});
