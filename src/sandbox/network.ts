// The network of `sluice sandbox`: a fresh namespace whose only link is a veth pair to the
// "host side" (the namespace sluice sandbox runs in, or --uplink-netns). The host side routes
// and masquerades the sandbox's traffic; the capture rules inside the sandbox make sure that
// only sluice's uid ever sends anything off-namespace, so that is all the host ever forwards.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';

export interface SandboxNetworkOptions {
  /** Name of the namespace (`ip netns`). */
  name: string;
  /** A /30 for the veth link, e.g. "198.19.255.0/30"; undefined picks a free one in 198.19.255.0/24. */
  subnet4: string | undefined;
  /** An IPv6 /64 for the link ("2001:db8:5c:200::/64"); undefined: the sandbox has no IPv6 route. */
  subnet6: string | undefined;
  /** Put the host end in this namespace instead of the current one (tests: a fake host). */
  uplinkNetns: string | undefined;
  /** Nameserver line(s) for the sandbox's /etc/resolv.conf (sluice's own lookups use it). */
  nameservers: string[];
}

export interface SandboxNetwork {
  name: string;
  hostAddress4: string;
  podAddress4: string;
  hostAddress6: string | undefined;
  podAddress6: string | undefined;
  /** Removes everything created, best effort; returns what could not be undone. */
  teardown(): string[];
}

const DEFAULT_POOL = '198.19.255.'; // inside 198.18.0.0/15 (benchmarking): never a real destination
const COMMAND_TIMEOUT_MS = 15_000;

function exec(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a command; undefined when it succeeded, else what went wrong. */
function tryExec(cmd: string, args: string[]): string | undefined {
  try {
    exec(cmd, args);
    return undefined;
  } catch (err) {
    return `${cmd} ${args.join(' ')}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`;
  }
}

/** "198.19.255.0/30" → host .1, pod .2 */
function addressesOf4(subnet: string): { host: string; pod: string } {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/30$/.exec(subnet);
  if (!match) throw new Error(`--subnet must be an IPv4 /30 (e.g. 198.19.255.0/30), not "${subnet}"`);
  const [a, b, c, d] = match.slice(1).map(Number) as [number, number, number, number];
  if ([a, b, c, d].some((n) => n > 255) || d % 4 !== 0) throw new Error(`--subnet "${subnet}" is not a /30 network address`);
  return { host: `${a}.${b}.${c}.${d + 1}`, pod: `${a}.${b}.${c}.${d + 2}` };
}

/** "2001:db8:5c:200::/64" → host ::1, pod ::2 */
function addressesOf6(subnet: string): { host: string; pod: string } {
  const match = /^([0-9a-f:]+)::\/64$/i.exec(subnet);
  if (!match) throw new Error(`--subnet6 must be an IPv6 /64 written PREFIX::/64, not "${subnet}"`);
  return { host: `${match[1]}::1`, pod: `${match[1]}::2` };
}

export function createSandboxNetwork(opts: SandboxNetworkOptions): SandboxNetwork {
  const { name, uplinkNetns } = opts;
  // Commands for the host side run in the uplink namespace when there is one.
  const host = (cmd: string, args: string[]): [string, string[]] =>
    uplinkNetns ? ['ip', ['netns', 'exec', uplinkNetns, cmd, ...args]] : [cmd, args];
  const hostExec = (cmd: string, args: string[]): string => exec(...host(cmd, args));
  const hostTry = (cmd: string, args: string[]): string | undefined => tryExec(...host(cmd, args));

  const subnet4 = opts.subnet4 ?? pickFreeSubnet(hostExec('ip', ['-4', '-o', 'addr', 'show']));
  const v4 = addressesOf4(subnet4);
  const v6 = opts.subnet6 ? addressesOf6(opts.subnet6) : undefined;
  // Interface names are limited to 15 characters.
  const tag = `${process.pid % 1_000_000}${Math.floor(Math.random() * 100)}`;
  const hostIf = `slx${tag}h`;
  const podIf = `slx${tag}p`;
  const comment = ['-m', 'comment', '--comment', `sluice sandbox ${name}`];
  const rules4: string[][] = [
    ['-t', 'nat', 'POSTROUTING', '-s', subnet4, '!', '-o', hostIf, ...comment, '-j', 'MASQUERADE'],
    ['-t', 'filter', 'FORWARD', '-i', hostIf, ...comment, '-j', 'ACCEPT'],
    ['-t', 'filter', 'FORWARD', '-o', hostIf, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', ...comment, '-j', 'ACCEPT'],
  ];
  const rules6 = v6 && opts.subnet6
    ? rules4.map((r) => r.map((arg) => (arg === subnet4 ? opts.subnet6 as string : arg)))
    : [];

  const undo: (() => string | undefined)[] = [];
  const teardown = (): string[] => {
    const failures: string[] = [];
    for (const step of undo.reverse()) {
      const failure = step();
      if (failure) failures.push(failure);
    }
    undo.length = 0;
    return failures;
  };

  try {
    exec('ip', ['netns', 'add', name]);
    undo.push(() => {
      killAll(name);
      return tryExec('ip', ['netns', 'del', name]);
    });
    hostExec('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', podIf]);
    undo.push(() => {
      // Usually gone already: deleting the namespace takes the pair with it.
      if (hostTry('ip', ['link', 'show', hostIf]) !== undefined) return undefined;
      return hostTry('ip', ['link', 'del', hostIf]);
    });
    hostExec('ip', ['link', 'set', podIf, 'netns', name]);

    hostExec('ip', ['addr', 'add', `${v4.host}/30`, 'dev', hostIf]);
    if (v6) hostExec('ip', ['-6', 'addr', 'add', `${v6.host}/64`, 'dev', hostIf, 'nodad']);
    hostExec('ip', ['link', 'set', hostIf, 'up']);

    const inPod = (args: string[]): string => exec('ip', ['-n', name, ...args]);
    inPod(['link', 'set', 'lo', 'up']);
    inPod(['link', 'set', podIf, 'name', 'eth0']);
    inPod(['addr', 'add', `${v4.pod}/30`, 'dev', 'eth0']);
    if (v6) inPod(['-6', 'addr', 'add', `${v6.pod}/64`, 'dev', 'eth0', 'nodad']);
    inPod(['link', 'set', 'eth0', 'up']);
    inPod(['route', 'add', 'default', 'via', v4.host]);
    if (v6) inPod(['-6', 'route', 'add', 'default', 'via', v6.host]);

    enableForwarding(hostExec, hostTry, undo, 'net.ipv4.ip_forward');
    if (v6) enableForwarding(hostExec, hostTry, undo, 'net.ipv6.conf.all.forwarding');
    for (const [bin, rules] of [['iptables', rules4], ['ip6tables', rules6]] as const) {
      for (const rule of rules) {
        const [t, table, chain, ...spec] = rule as [string, string, string, ...string[]];
        // FORWARD rules go first: a host with Docker has FORWARD's policy at DROP.
        const insert = chain === 'FORWARD' ? ['-I', chain, '1'] : ['-A', chain];
        hostExec(bin, ['-w', '10', t, table, ...insert, ...spec]);
        undo.push(() => hostTry(bin, ['-w', '10', t, table, '-D', chain, ...spec]));
      }
    }

    // `ip netns exec` bind-mounts /etc/netns/NAME/* over /etc for every process it starts.
    const etc = `/etc/netns/${name}`;
    mkdirSync(etc, { recursive: true });
    undo.push(() => {
      rmSync(etc, { recursive: true, force: true });
      return undefined;
    });
    writeFileSync(`${etc}/resolv.conf`, opts.nameservers.map((ns) => `nameserver ${ns}\n`).join(''));
  } catch (err) {
    const leftovers = teardown();
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new Error(`cannot set up the sandbox network: ${detail}${leftovers.length ? `; not undone: ${leftovers.join('; ')}` : ''}`);
  }

  return {
    name,
    hostAddress4: v4.host,
    podAddress4: v4.pod,
    hostAddress6: v6?.host,
    podAddress6: v6?.pod,
    teardown,
  };
}

function enableForwarding(
  hostExec: (cmd: string, args: string[]) => string,
  hostTry: (cmd: string, args: string[]) => string | undefined,
  undo: (() => string | undefined)[],
  key: string,
): void {
  const before = hostExec('sysctl', ['-n', key]).trim();
  if (before === '1') return;
  hostExec('sysctl', ['-q', '-w', `${key}=1`]);
  // Put it back: a host that did not route before should not route after.
  undo.push(() => hostTry('sysctl', ['-q', '-w', `${key}=${before}`]));
}

/** The first /30 of the default pool whose host address nobody uses yet. */
function pickFreeSubnet(addrOutput: string): string {
  for (let d = 0; d < 256; d += 4) {
    if (!addrOutput.includes(` ${DEFAULT_POOL}${d + 1}/`)) return `${DEFAULT_POOL}${d}/30`;
  }
  throw new Error(`no free /30 left in ${DEFAULT_POOL}0/24; pass --subnet`);
}

/** Every process still in the namespace (a CMD's stray children) is killed before it goes. */
export function killAll(name: string): void {
  let pids = '';
  try {
    pids = exec('ip', ['netns', 'pids', name]);
  } catch {
    return; // no such namespace
  }
  for (const pid of pids.split('\n').map((p) => Number(p)).filter((p) => Number.isInteger(p) && p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
