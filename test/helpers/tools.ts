// Where the tests find the programs they drive, and what a suite does when one is missing.
// Debian installs daemons (nginx, dnsmasq, ip, iptables) in /usr/sbin or /sbin, which a normal
// user's PATH lacks although they run fine as that user: so PATH first, then those folders.
// A program that is really missing skips the suites needing it with one line naming the
// Debian package; under CI=true it fails them instead, so CI cannot pass by proving nothing.
import { accessSync, constants } from 'node:fs';

/** The programs the suites run, each with the Debian package that installs it. */
const PACKAGES = {
  openssl: 'openssl',
  nginx: 'nginx-light',
  dnsmasq: 'dnsmasq-base',
  curl: 'curl',
  python3: 'python3',
  git: 'git',
  ip: 'iproute2',
  iptables: 'iptables',
  ip6tables: 'iptables',
  'iptables-nft': 'iptables',
  'ip6tables-nft': 'iptables',
  'iptables-legacy': 'iptables',
  unshare: 'util-linux',
  nsenter: 'util-linux',
  setpriv: 'util-linux',
  aws: 'awscli',
  rclone: 'rclone',
  s3cmd: 's3cmd',
} as const;

export type Tool = keyof typeof PACKAGES;

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Under CI a missing requirement fails the suite. */
export function inCi(): boolean {
  return process.env.CI === 'true' || process.env.CI === '1';
}

/** Absolute path of a program: PATH first, then the sbin folders; undefined when absent. */
export function findTool(program: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN];
  for (const dir of dirs) {
    try {
      accessSync(`${dir}/${program}`, constants.X_OK);
      return `${dir}/${program}`;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** What to spawn for `cmd`: a bare name resolved with findTool, a path as given. */
export function commandPath(cmd: string): string {
  if (cmd.includes('/')) return cmd;
  return findTool(cmd) ?? cmd;
}

/** findTool, or an error naming the package to install. */
export function toolPath(program: Tool): string {
  const path = findTool(program);
  if (path === undefined) throw new Error(`${program} is not installed: ${installHint(program)}`);
  return path;
}

/** "nginx (apt-get install nginx-light)" for a known tool; the bare name otherwise. */
export function installHint(program: string): string {
  const pkg = (PACKAGES as Record<string, string>)[program];
  return pkg === undefined ? program : `${program} (apt-get install ${pkg})`;
}

/** The tools of `tools` that are missing, as one clause: "needs nginx, dnsmasq: apt-get install …". */
export function missingTools(tools: readonly Tool[]): string | undefined {
  const missing = tools.filter((t) => findTool(t) === undefined);
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map((t) => PACKAGES[t]))];
  return `needs ${missing.join(', ')}: sudo apt-get install ${packages.join(' ')}`;
}

/**
 * Decides a suite's fate from a reason it cannot run (undefined: it can). Prints the one
 * `[skipped]` line, or throws under CI=true. Returns the reason, for `describe.skipIf`.
 */
export function skipSuite(suite: string, reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  if (inCi()) throw new Error(`${suite}: cannot run under CI=true: ${reason}`);
  console.warn(`[skipped] ${suite}: ${reason}`);
  return reason;
}

/** A suite that needs these programs: skipped (one line) when one is missing, failed under CI. */
export function skipUnlessTools(suite: string, tools: readonly Tool[]): string | undefined {
  return skipSuite(suite, missingTools(tools));
}
