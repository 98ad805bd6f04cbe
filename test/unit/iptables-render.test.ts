// The capture rules as text: `sluice-init.sh render` for each configuration must equal its
// golden file, so any change to what gets installed shows up in review as a diff of rules.
// Refresh after an intended change: UPDATE_GOLDEN=1 npx vitest run test/unit/iptables-render.test.ts
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../../iptables/sluice-init.sh', import.meta.url));
const goldenDir = fileURLToPath(new URL('./golden/', import.meta.url));

function render(env: Record<string, string>, ...args: string[]) {
  // A clean environment: only PATH and the tunables under test reach the script.
  const result = spawnSync('bash', [script, 'render', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const configurations: Record<string, Record<string, string>> = {
  defaults: {},
  'custom-ports': {
    SLUICE_UID: '2000',
    SLUICE_HTTPS_PORT: '25443',
    SLUICE_HTTP_PORT: '25080',
    SLUICE_DENY_PORT: '25001',
    SLUICE_DNS_PORT: '25053',
    SLUICE_ADMIN_PORT: '25000',
    SLUICE_EXTRA_TLS_PORTS: '8443:25444,9443:25445',
  },
  'exclude-cidrs': { SLUICE_EXCLUDE_CIDRS: '10.96.0.0/12 192.168.7.0/24,fd00:10::/108' },
};

describe('sluice-init.sh render', () => {
  for (const [name, env] of Object.entries(configurations)) {
    it(`matches golden/${name}.rules`, () => {
      const out = render(env);
      expect(out.stderr).toBe('');
      expect(out.status).toBe(0);
      const file = `${goldenDir}${name}.rules`;
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, out.stdout);
      expect(out.stdout).toBe(readFileSync(file, 'utf8'));
    });
  }

  it('renders one family on request', () => {
    const v6 = render({}, 'v6');
    expect(v6.status).toBe(0);
    expect(v6.stdout).toContain('-d ::1/128 -j RETURN');
    expect(v6.stdout).not.toContain('127.0.0.0/8');
  });

  it('puts each excluded CIDR in its own family, in nat and filter', () => {
    const v4 = render({ SLUICE_EXCLUDE_CIDRS: '10.96.0.0/12 fd00:10::/108' }, 'v4').stdout;
    expect(v4.match(/-d 10\.96\.0\.0\/12 -j RETURN/g)).toHaveLength(2);
    expect(v4).not.toContain('fd00');
  });

  it('keeps the rule order of DESIGN.md §1 in nat OUTPUT', () => {
    const nat = render({}, 'v4').stdout.split('*filter')[0] ?? '';
    const order = ['--uid-owner 1337 -j RETURN', '--dport 53 -j REDIRECT', '-d 127.0.0.0/8 -j RETURN',
      '--dport 443 -j REDIRECT', '--dport 80 -j REDIRECT', '-p tcp -j REDIRECT --to-ports 15001'];
    const positions = order.map((rule) => nat.indexOf(rule));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  const filterOf = (text: string): string[] =>
    (text.split('*filter')[1] ?? '').split('\n').filter((l) => l.startsWith('-A SLUICE_OUTPUT'));

  it('refuses 127.0.0.11 (Docker\'s embedded DNS) on every port before loopback is let through', () => {
    const nat = render({}, 'v4').stdout.split('*filter')[0] ?? '';
    expect(nat.indexOf('--dport 53 -j REDIRECT')).toBeLessThan(nat.indexOf('-d 127.0.0.0/8 -j RETURN'));
    const filter = filterOf(render({ SLUICE_EXCLUDE_CIDRS: '127.0.0.0/8' }, 'v4').stdout);
    const refusals = filter.filter((l) => l.includes('-d 127.0.0.11/32'));
    expect(refusals).toEqual([
      '-A SLUICE_OUTPUT -d 127.0.0.11/32 -p tcp -j REJECT --reject-with tcp-reset',
      '-A SLUICE_OUTPUT -d 127.0.0.11/32 -j REJECT --reject-with icmp-port-unreachable',
    ]);
    // Before any RETURN that could let it through (loopback, an excluded CIDR), after sluice's uid.
    const first = filter.indexOf(refusals[0] as string);
    expect(filter.findIndex((l) => l.includes('-d 127.0.0.0/8 -j RETURN'))).toBeGreaterThan(first);
    expect(filter.findIndex((l) => l.includes('-j RETURN') && !l.includes('--uid-owner') && !l.includes('--ctdir REPLY'))).toBeGreaterThan(first);
  });

  it('lets conntrack through in the reply direction only, in both families', () => {
    for (const family of ['v4', 'v6']) {
      const conntrack = filterOf(render({}, family).stdout).filter((l) => l.includes('conntrack'));
      expect(conntrack).toEqual(['-A SLUICE_OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED --ctdir REPLY -j RETURN']);
    }
  });

  it('lets ICMPv6 through only as neighbour discovery with hop limit 255: the kernel\'s anywhere, a process\'s on the link', () => {
    const icmp = filterOf(render({}, 'v6').stdout).filter((l) => l.includes('ipv6-icmp'));
    expect(icmp).toHaveLength(15);
    for (const rule of icmp) {
      expect(rule).toMatch(/--icmpv6-type 13[3-7] -m hl --hl-eq 255 -j RETURN$/);
      const kernelOnly = rule.includes('-m owner ! --uid-owner 0-4294967294');
      const onLink = rule.startsWith('-A SLUICE_OUTPUT -d fe80::/10 ') || rule.startsWith('-A SLUICE_OUTPUT -d ff02::/16 ');
      expect(kernelOnly !== onLink).toBe(true);
    }
    expect(render({}, 'v4').stdout).not.toContain('icmp6');
  });

  it('leaves no placeholder unfilled', () => {
    for (const env of Object.values(configurations)) {
      const rules = render(env).stdout.split('\n').filter((l) => !l.startsWith('#'));
      expect(rules.join('\n')).not.toContain('${');
    }
  });

  // Every value lands in iptables-restore input, so anything that is not a plain value must
  // be refused before a rule is written.
  const refused: [string, Record<string, string>, RegExp][] = [
    ['a port out of range', { SLUICE_HTTPS_PORT: '70000' }, /SLUICE_HTTPS_PORT=70000 is not a port/],
    ['a non-numeric uid', { SLUICE_UID: 'root' }, /SLUICE_UID=root/],
    ['a listener port used twice', { SLUICE_HTTP_PORT: '15443' }, /used twice/],
    ['the admin port reused', { SLUICE_DENY_PORT: '15000' }, /used twice/],
    ['a CIDR with host bits', { SLUICE_EXCLUDE_CIDRS: '10.96.1.1/12' }, /host bits/],
    ['a rule smuggled in a CIDR', { SLUICE_EXCLUDE_CIDRS: '10.0.0.0/8\n-A OUTPUT -j ACCEPT' }, /not ADDRESS\/PREFIX/],
    ['an upper-case IPv6 CIDR', { SLUICE_EXCLUDE_CIDRS: 'FD00::/8' }, /lower-case/],
    ['an extra TLS port without listener', { SLUICE_EXTRA_TLS_PORTS: '8443' }, /PORT:LISTENER_PORT/],
  ];
  for (const [what, env, message] of refused) {
    it(`refuses ${what}`, () => {
      const out = render(env);
      expect(out.status).toBe(1);
      expect(out.stdout).toBe('');
      expect(out.stderr).toMatch(message);
    });
  }
});
