// sluice-init.sh against a real kernel, in a network namespace of its own: apply, verify,
// idempotence, tamper detection, remove, and fail-closed IPv6, on every iptables backend
// present (nft always; legacy when iptables-legacy exists).
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetNs, kernelSuiteSkipReason, which } from '../helpers/netns.ts';

const script = fileURLToPath(new URL('../../iptables/sluice-init.sh', import.meta.url));
const skip = kernelSuiteSkipReason('iptables-netns', ['ip', 'iptables-nft', 'ip6tables-nft']);
const backends = ['nft', ...(which('iptables-legacy') ? ['legacy'] : [])] as const;

type Backend = (typeof backends)[number];

/** Everything iptables shows for both families and both tables, per backend. */
function snapshot(ns: NetNs, backend: Backend): string {
  return ['iptables', 'ip6tables'].flatMap((family) =>
    ['nat', 'filter'].map((table) => ns.execOk(`${family}-${backend}`, ['-t', table, '-S']))).join('\n');
}

function sluiceRules(ns: NetNs, backend: Backend): string[] {
  return snapshot(ns, backend).split('\n').filter((l) => l.includes('SLUICE_'));
}

/** A PATH whose ip6tables commands fail (all of them, or only the restore that installs). */
function failingIp6tablesPath(dir: string, backend: Backend, which: 'all' | 'restore'): string {
  const names = which === 'all'
    ? ['ip6tables', 'ip6tables-restore', `ip6tables-${backend}`, `ip6tables-${backend}-restore`]
    : ['ip6tables-restore', `ip6tables-${backend}-restore`];
  for (const name of names) {
    writeFileSync(join(dir, name), '#!/bin/sh\necho "fake $0: refusing" >&2\nexit 1\n');
    chmodSync(join(dir, name), 0o755);
  }
  return `${dir}:${process.env.PATH}`;
}

/** A PATH with every usual program except ip6tables*: IPv6 "present, no tools". */
function noIp6tablesPath(dir: string): string {
  for (const folder of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!existsSync(folder)) continue;
    for (const entry of readdirSync(folder)) {
      if (entry.startsWith('ip6tables') || existsSync(join(dir, entry))) continue;
      symlinkSync(join(folder, entry), join(dir, entry));
    }
  }
  return dir;
}

describe.skipIf(skip !== undefined).each(backends)('sluice-init.sh on the %s backend', (backend) => {
  let ns: NetNs;
  let tmp: string;
  let pristine: string;
  const env = (extra: Record<string, string> = {}) => ({ ...process.env, SLUICE_IPTABLES: backend, ...extra });
  const init = (command: string, extra: Record<string, string> = {}) =>
    ns.exec('bash', [script, command], { env: env(extra) });

  beforeAll(() => {
    ns = NetNs.create(`ipt-${backend}`);
    tmp = mkdtempSync(join(tmpdir(), 'sluice-ipt-'));
    // What Docker leaves in a container's namespace: its DNS DNAT at the top of nat OUTPUT.
    ns.execOk(`iptables-${backend}-restore`, ['--noflush'], {
      input: [
        '*nat', ':DOCKER_OUTPUT - [0:0]', '-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT',
        '-A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:40000',
        'COMMIT', '',
      ].join('\n'),
    });
    pristine = snapshot(ns, backend);
  });

  afterAll(() => {
    ns?.destroy();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('applies, and verify reads the rules back', () => {
    const applied = init('apply');
    expect(applied.stderr).toContain(`backend ${backend}`);
    expect(applied.status).toBe(0);
    const verified = init('verify');
    expect(verified.stderr).toContain('verified');
    expect(verified.status).toBe(0);
  });

  it('jumps to its chains from the first position, above Docker\'s DNS DNAT, in both families', () => {
    for (const family of ['iptables', 'ip6tables']) {
      const nat = ns.execOk(`${family}-${backend}`, ['-t', 'nat', '-S', 'OUTPUT']).split('\n');
      expect(nat.find((l) => l.startsWith('-A OUTPUT'))).toBe('-A OUTPUT -j SLUICE_OUTPUT');
      const filter = ns.execOk(`${family}-${backend}`, ['-S']).split('\n');
      expect(filter.find((l) => l.startsWith('-A OUTPUT'))).toBe('-A OUTPUT -j SLUICE_OUTPUT');
      expect(filter.find((l) => l.startsWith('-A INPUT'))).toBe('-A INPUT -j SLUICE_INPUT');
    }
    expect(ns.execOk(`iptables-${backend}`, ['-t', 'nat', '-S'])).toContain('-j DOCKER_OUTPUT');
  });

  it('is idempotent: a second apply leaves exactly one copy', () => {
    const once = sluiceRules(ns, backend);
    expect(init('apply').status).toBe(0);
    expect(sluiceRules(ns, backend)).toEqual(once);
    const jumps = once.filter((l) => /^-A (OUTPUT|INPUT) -j SLUICE_/.test(l));
    expect(jumps).toHaveLength(6); // nat OUTPUT, filter OUTPUT, filter INPUT, times two families
  });

  it('moves its jump back to the top when something was inserted above it', () => {
    ns.execOk(`iptables-${backend}`, ['-t', 'nat', '-I', 'OUTPUT', '1', '-d', '198.18.0.9', '-j', 'RETURN']);
    const drifted = init('verify');
    expect(drifted.status).toBe(1);
    expect(drifted.stderr).toContain('IPv4 nat: missing: -A OUTPUT -j SLUICE_OUTPUT as the first rule of OUTPUT');
    expect(init('apply').status).toBe(0);
    expect(init('verify').status).toBe(0);
    ns.execOk(`iptables-${backend}`, ['-t', 'nat', '-D', 'OUTPUT', '-d', '198.18.0.9', '-j', 'RETURN']);
  });

  it('verify names a rule deleted by hand, and apply repairs it', () => {
    ns.execOk(`ip6tables-${backend}`, ['-t', 'nat', '-D', 'SLUICE_OUTPUT', '-p', 'tcp', '-m', 'tcp', '--dport', '443',
      '-j', 'REDIRECT', '--to-ports', '15443']);
    const tampered = init('verify');
    expect(tampered.status).toBe(1);
    expect(tampered.stderr).toContain(
      'IPv6 nat: missing: -A SLUICE_OUTPUT -p tcp -m tcp --dport 443 -j REDIRECT --to-ports 15443');
    expect(init('apply').status).toBe(0);
    expect(init('verify').status).toBe(0);
  });

  it('verify names a rule added by hand', () => {
    ns.execOk(`iptables-${backend}`, ['-A', 'SLUICE_OUTPUT', '-d', '198.18.0.0/15', '-j', 'RETURN']);
    const tampered = init('verify');
    expect(tampered.status).toBe(1);
    expect(tampered.stderr).toContain('IPv4 filter: extra: -A SLUICE_OUTPUT -d 198.18.0.0/15 -j RETURN');
    expect(init('apply').status).toBe(0);
  });

  it('verify fails when the rules were rendered with other ports', () => {
    const other = init('verify', { SLUICE_HTTPS_PORT: '16443' });
    expect(other.status).toBe(1);
    expect(other.stderr).toContain('missing: -A SLUICE_OUTPUT -p tcp -m tcp --dport 443 -j REDIRECT --to-ports 16443');
  });

  it('keeps the previous rules when a re-apply fails on IPv6', () => {
    const before = snapshot(ns, backend);
    const dir = mkdtempSync(join(tmp, 'fail6-'));
    const failed = init('apply', { PATH: failingIp6tablesPath(dir, backend, 'restore'), SLUICE_HTTPS_PORT: '16443' });
    expect(failed.status).not.toBe(0);
    expect(failed.stderr).toContain('apply failed');
    expect(snapshot(ns, backend)).toBe(before);
  });

  it('remove puts the namespace back as it was', () => {
    expect(init('remove').status).toBe(0);
    expect(snapshot(ns, backend)).toBe(pristine);
    expect(init('remove').status).toBe(0); // nothing left to remove is fine
    expect(init('verify').status).toBe(1);
  });

  it.each(['restore', 'all'] as const)('fails closed when ip6tables fails (%s): non-zero and no IPv4 rules either', (which) => {
    const dir = mkdtempSync(join(tmp, 'fail6-'));
    const failed = init('apply', { PATH: failingIp6tablesPath(dir, backend, which) });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain('fake');
    expect(snapshot(ns, backend)).toBe(pristine);
  });

  it('fails closed when ip6tables is missing while the kernel has IPv6', () => {
    expect(ns.execOk('cat', ['/proc/net/if_inet6'])).toContain('00000000000000000000000000000001');
    const dir = mkdtempSync(join(tmp, 'no6-'));
    const failed = init('apply', { PATH: noIp6tablesPath(dir) });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/IPv6: ip6tables\S* and ip6tables\S*-restore are required/);
    expect(snapshot(ns, backend)).toBe(pristine);
  });

  it('applies and verifies excluded CIDRs and extra TLS ports as the kernel prints them', () => {
    const tunables = { SLUICE_EXCLUDE_CIDRS: '10.96.0.0/12 fd00:10::/108', SLUICE_EXTRA_TLS_PORTS: '8443:15444' };
    expect(init('apply', tunables).status).toBe(0);
    expect(init('verify', tunables).status).toBe(0);
    expect(ns.execOk(`ip6tables-${backend}`, ['-S', 'SLUICE_OUTPUT'])).toContain('-A SLUICE_OUTPUT -d fd00:10::/108 -j RETURN');
    expect(init('verify').status).toBe(1); // the defaults differ from what is installed
    expect(init('remove').status).toBe(0);
    expect(snapshot(ns, backend)).toBe(pristine);
  });

  it('auto picks the backend that already holds rules', () => {
    const auto = ns.exec('bash', [script, 'apply'], { env: { ...process.env, SLUICE_IPTABLES: 'auto' } });
    expect(auto.status).toBe(0);
    expect(auto.stderr).toContain(`backend ${backend}`);
    expect(sluiceRules(ns, backend).length).toBeGreaterThan(0);
    expect(init('remove').status).toBe(0);
    expect(snapshot(ns, backend)).toBe(pristine);
  });
});
