// `sluice sandbox` trusts nothing CMD can touch (DESIGN.md §1, issue 11 item 5). CMD runs as an
// ordinary uid on the real filesystem, and sluice reloads its config when the file changes: a
// CMD that can rewrite the config (or replace it through any folder on its path) can widen a
// credential's hosts and have sluice send the real key where CMD reads it. Each layout below
// is one such way, and the sandbox must refuse it before it creates anything, naming the file,
// who can change or read it, and the command that fixes it. Then: a safe layout runs, and CMD
// keeps no supplementary group (`setpriv --init-groups` used to keep groups such as `docker`).
//
// Needs root (chown, namespaces). A layout that is wrongly accepted starts a real sandbox, so
// every run goes through --uplink-netns into a namespace of this test, never the host's.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetNs, kernelSuiteSkipReason, run } from '../helpers/netns.ts';
import { changeableEntries } from '../../src/sandbox/code-tree.ts';

const skip = kernelSuiteSkipReason('sandbox trust', ['ip', 'iptables', 'ip6tables', 'setpriv', 'unshare', 'mount']);
const sluiceBin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

const AGENT = 4242;
const OTHER_GROUP = 4343;
const SLUICE_UID = 1337;
const SECRET = `trust-secret-${process.pid}-0123456789`;

interface Layout {
  dir: string;
  config: string;
}

describe.skipIf(skip !== undefined)('sluice sandbox refuses what CMD could touch', () => {
  let root: string;
  let uplink: NetNs;
  let runs = 0;

  /** A fresh root-owned folder (0755) with a safe config in it; `extra` adds TOML lines. */
  function layout(name: string, extra: string[] = []): Layout {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    const config = join(dir, 'sluice.toml');
    writeFileSync(config, [
      '[proxy]', 'agent = "trust"',
      '[dns]', 'upstream = "198.18.0.53"', // never asked: nothing here resolves a name
      '[[allow]]', 'host = "allowed.example"',
      ...extra, '',
    ].join('\n'));
    chmodSync(config, 0o644);
    return { dir, config };
  }

  function fileSecret(dir: string, mode: number): string {
    const file = join(dir, 'anthropic.key');
    writeFileSync(file, `${SECRET}\n`);
    chownSync(file, SLUICE_UID, SLUICE_UID);
    chmodSync(file, mode);
    return file;
  }

  const credentialWithFile = (file: string): string[] => [
    '[credentials.demo]', 'hosts = ["allowed.example"]', 'surrogate = "sk-trust-surrogate-0123456789"', `secret = { file = "${file}" }`,
  ];

  /** Runs `sluice sandbox -c config --user USER -- CMD` (bounded); the namespace it would make is checked afterwards. */
  function sandbox(config: string, user: string, command: string[] = ['true'], wrap: string[] = []) {
    const name = `sluice-t-${process.pid}-tr${++runs}`;
    const args = [sluiceBin, 'sandbox', '-c', config, '--name', name, '--uplink-netns', uplink.name, '--user', user, '--', ...command];
    const result = wrap.length > 0
      ? spawnSync(wrap[0] as string, [...wrap.slice(1), process.execPath, ...args], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' })
      : spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    const leftover = run('ip', ['netns', 'list']).stdout.includes(name);
    if (leftover) run('ip', ['netns', 'del', name]);
    return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '', leftover };
  }

  /** The sandbox refused before it made anything, and said `...parts` in its message. */
  function expectRefused(r: ReturnType<typeof sandbox>, ...parts: string[]): void {
    expect(r.stderr).toContain('refusing to start');
    for (const part of parts) expect(r.stderr).toContain(part);
    expect(r.status).toBe(1);
    expect(r.stderr).not.toContain('running '); // CMD never ran
    expect(r.leftover).toBe(false);
  }

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'sluice-trust-'));
    chmodSync(root, 0o755);
    uplink = NetNs.create('trust-up');
  });

  afterAll(() => {
    uplink?.destroy();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  describe('the config, and every folder on its path', () => {
    it('a config owned by CMD\'s uid (it can chmod it, then rewrite it)', () => {
      const { config } = layout('owned');
      chownSync(config, AGENT, AGENT);
      expectRefused(sandbox(config, String(AGENT)), config, 'uid 4242 owns it', `chown root:root ${config}`);
    });

    it('a config anyone can write', () => {
      const { config } = layout('world-writable');
      chmodSync(config, 0o666);
      expectRefused(sandbox(config, String(AGENT)), config, 'can write it', `chmod 644 ${config}`);
    });

    it('a config writable by the group CMD runs with', () => {
      const { config } = layout('group-writable');
      chownSync(config, 0, OTHER_GROUP);
      chmodSync(config, 0o664);
      expectRefused(sandbox(config, `${AGENT}:${OTHER_GROUP}`), config, `gid ${OTHER_GROUP}`, 'can write it');
    });

    it('a config in a folder CMD can write (it can replace the file)', () => {
      const { dir, config } = layout('writable-dir');
      chmodSync(dir, 0o777);
      expectRefused(sandbox(config, String(AGENT)), `${dir} (a folder on the path to the config)`, 'can write it', `chmod go-w ${dir}`);
    });

    it('a config under a parent folder CMD owns, two levels up', () => {
      const parent = join(root, 'owned-parent');
      mkdirSync(parent);
      chownSync(parent, AGENT, AGENT);
      chmodSync(parent, 0o755);
      const { config } = layout('owned-parent/a/b');
      chmodSync(join(parent, 'a'), 0o755);
      expectRefused(sandbox(config, String(AGENT)), parent, 'uid 4242 owns it', `chown root:root ${parent}`);
    });

    it('a config reached through a symlink in a folder CMD can write', () => {
      const { config } = layout('link-target');
      const links = join(root, 'links');
      mkdirSync(links);
      chmodSync(links, 0o777);
      symlinkSync(config, join(links, 'sluice.toml'));
      expectRefused(sandbox(join(links, 'sluice.toml'), String(AGENT)), `${links} (a folder on the path to the config)`);
    });
  });

  describe('what sluice guards', () => {
    it('a { file = … } secret CMD can read', () => {
      const { dir } = layout('secret-readable');
      const secret = fileSecret(dir, 0o644);
      const { config } = layout('secret-readable', credentialWithFile(secret));
      const r = sandbox(config, String(AGENT));
      expectRefused(r, secret, 'credentials.demo.secret', 'can read it', `chmod 600 ${secret}`);
      expect(r.stderr + r.stdout).not.toContain(SECRET);
    });

    it.each(['ca.key', 'mint.key'])('a %s CMD can read', (key) => {
      const { dir, config } = layout(`readable-${key}`);
      const certs = join(dir, 'certs');
      mkdirSync(certs);
      chownSync(certs, SLUICE_UID, SLUICE_UID);
      chmodSync(certs, 0o755);
      writeFileSync(join(certs, key), 'not really a key\n');
      chownSync(join(certs, key), SLUICE_UID, SLUICE_UID);
      chmodSync(join(certs, key), 0o644);
      expectRefused(sandbox(config, String(AGENT)), join(certs, key), 'can read it', `chmod 600 ${join(certs, key)}`);
    });

    it('a log folder CMD can write', () => {
      const { dir, config } = layout('logs-writable');
      mkdirSync(join(dir, 'logs'));
      chmodSync(join(dir, 'logs'), 0o777);
      expectRefused(sandbox(config, String(AGENT)), join(dir, 'logs'), 'can write it', `chmod 700 ${join(dir, 'logs')}`);
    });

    it('a log folder CMD can enter, even with nothing readable in it yet', () => {
      const { dir, config } = layout('logs-enterable');
      const logs = join(dir, 'logs');
      mkdirSync(logs);
      chownSync(logs, SLUICE_UID, SLUICE_UID);
      chmodSync(logs, 0o2751); // setgid: files sluice writes there would take the folder's group
      expectRefused(sandbox(config, String(AGENT)), logs, 'can enter it', `chmod 700 ${logs}`);
    });

    it('a log file CMD can read', () => {
      const { dir, config } = layout('logs-readable');
      const logs = join(dir, 'logs');
      mkdirSync(logs);
      chownSync(logs, SLUICE_UID, SLUICE_UID);
      chmodSync(logs, 0o755);
      writeFileSync(join(logs, 'access.ndjson'), '{}\n');
      chownSync(join(logs, 'access.ndjson'), SLUICE_UID, SLUICE_UID);
      chmodSync(join(logs, 'access.ndjson'), 0o644);
      expectRefused(sandbox(config, String(AGENT)), join(logs, 'access.ndjson'), 'can read it');
    });
  });

  describe('the code root and sluice run', () => {
    // The sandbox checks its own package folder (bin, src, iptables, node_modules): shown here on
    // a copy of that layout, since the shared checkout must not be chowned by a test.
    it('finds an entry CMD owns, a group-writable one of CMD\'s group and a world-writable one, deep in the tree', () => {
      const pkg = join(root, 'package');
      for (const d of ['src/cli', 'node_modules/undici/lib', 'node_modules/.bin']) mkdirSync(join(pkg, d), { recursive: true });
      for (const f of ['src/cli/run.ts', 'node_modules/undici/lib/client.js', 'node_modules/undici/index.js']) writeFileSync(join(pkg, f), '');
      symlinkSync('../undici/index.js', join(pkg, 'node_modules/.bin/undici')); // a link's own mode (0777) is no finding
      const roots = ['src', 'node_modules'].map((d) => join(pkg, d));
      expect(changeableEntries({ uid: AGENT, gid: AGENT }, roots)).toEqual([]);
      chownSync(join(pkg, 'src/cli/run.ts'), AGENT, AGENT);
      chownSync(join(pkg, 'node_modules/undici/lib'), 0, AGENT);
      chmodSync(join(pkg, 'node_modules/undici/lib'), 0o775);
      chmodSync(join(pkg, 'node_modules/undici/index.js'), 0o646);
      expect(changeableEntries({ uid: AGENT, gid: AGENT }, roots).sort()).toEqual([
        join(pkg, 'node_modules/undici/index.js'), join(pkg, 'node_modules/undici/lib'), join(pkg, 'src/cli/run.ts'),
      ]);
      // Another uid and group: only the world-writable file.
      expect(changeableEntries({ uid: 4444, gid: 4444 }, roots)).toEqual([join(pkg, 'node_modules/undici/index.js')]);
    });
  });

  describe('who CMD is', () => {
    it('uid 0: root without capabilities still owns every root-owned file', () => {
      const { config } = layout('as-root');
      expectRefused(sandbox(config, '0'), 'uid 0', '--user');
    });

    it('sluice\'s own group (its logs are group-readable)', () => {
      const { config } = layout('sluice-group');
      expectRefused(sandbox(config, `${AGENT}:${SLUICE_UID}`), `gid ${SLUICE_UID}`);
    });
  });

  describe('a safe layout', () => {
    it('runs under a sticky world-writable parent (as in /tmp), and CMD has no supplementary group', () => {
      // A user with a passwd entry and a supplementary group, seen only by this sandbox run:
      // /etc/passwd and /etc/group are bind-mounted in a private mount namespace.
      const sticky = join(root, 'sticky');
      mkdirSync(sticky);
      chmodSync(sticky, 0o1777);
      const { config } = layout('sticky/safe');
      const etc = join(root, 'etc');
      mkdirSync(etc);
      const passwd = join(etc, 'passwd');
      const group = join(etc, 'group');
      writeFileSync(passwd, `${readFileSync('/etc/passwd', 'utf8')}sluicegroups:x:${AGENT}:${AGENT}::/nonexistent:/bin/sh\n`);
      writeFileSync(group, `${readFileSync('/etc/group', 'utf8')}sluicegroups:x:${AGENT}:\nsluiceextra:x:${OTHER_GROUP}:sluicegroups\n`);
      chmodSync(passwd, 0o644);
      chmodSync(group, 0o644);
      const script = `mount --bind ${passwd} /etc/passwd && mount --bind ${group} /etc/group && exec "$@"`;
      const r = sandbox(config, 'sluicegroups', ['sh', '-c', 'echo "groups: $(id -G)"; id -nG'],
        ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh']);
      expect(r.stderr).not.toContain('refusing');
      expect(r.status).toBe(0);
      // Without --clear-groups this printed "groups: 4242 4343".
      expect(r.stdout).toContain(`groups: ${AGENT}\n`);
      expect(r.leftover).toBe(false);
    });
  });
});
