// A small internet in network namespaces (see README.md):
//
//   [pod: made by `sluice sandbox`] --veth-- [host: routes + NAT] --veth-- [internet]
//                                                                          dnsmasq, origins, canary
//
// Addresses live in 198.18.0.0/15 and 2001:db8::/32 and exist only inside these namespaces.
// Leaks are measured where they would land: iptables counters in the internet namespace count
// every packet to the canary addresses (any protocol), dnsmasq logs every query it receives,
// and the origin process records every connection, request and datagram.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetNs, runOk } from '../helpers/netns.ts';
import { startDaemon } from '../helpers/process.ts';
import type { TestPki } from '../helpers/pki.ts';
import type { FakeOriginConfig } from './fake-origin.ts';

export const NET = {
  dns: '198.18.0.53',
  origin4: '198.18.0.10',
  origin6: '2001:db8:5c::10',
  canary4: '198.18.0.66',
  canary6: '2001:db8:5c::66',
  hostLink4: '198.18.100.1',
  inetLink4: '198.18.100.2',
  hostLink6: '2001:db8:5c:100::1',
  inetLink6: '2001:db8:5c:100::2',
  /** Given to `sluice sandbox --subnet6`: the pod's IPv6 link to the host namespace. */
  podSubnet6: '2001:db8:5c:200::/64',
} as const;

/** Names the resolver knows. The sluice config allows the first three only. */
export const NAMES = {
  allowed: 'allowed.fake.test',
  plain: 'plain.fake.test',
  git: 'git.fake.test',
  evil: 'evil.fake.test',
} as const;

export const CANARY_TCP_PORTS = [443, 80, 22, 53, 8080, 5432];
export const CANARY_UDP_PORTS = [443, 53, 9999];

export interface OriginRecord {
  kind: 'request' | 'tcp' | 'udp';
  local?: string;
  host?: string;
  sni?: string;
  path?: string;
  port?: number;
  authorization?: string;
}

export interface FakeInternet {
  /** The namespace `sluice sandbox --uplink-netns` attaches to. */
  host: NetNs;
  internet: NetNs;
  /** Packets that reached the canary addresses since the last reset, per family. */
  canaryPackets(): { v4: number; v6: number };
  resetCanary(): void;
  /** Names dnsmasq was asked about so far. */
  dnsQueries(): string[];
  originRecords(): OriginRecord[];
  stop(): Promise<void>;
}

const originScript = fileURLToPath(new URL('./fake-origin.ts', import.meta.url));

export async function startFakeInternet(dir: string, pki: TestPki, gitRoot: string): Promise<FakeInternet> {
  const host = NetNs.create('host');
  const internet = NetNs.create('inet');
  const stops: (() => Promise<void> | void)[] = [() => internet.destroy(), () => host.destroy()];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s();
  };
  try {
    runOk('ip', ['link', 'add', 'up0', 'netns', host.name, 'type', 'veth', 'peer', 'name', 'up0', 'netns', internet.name]);
    host.execOk('ip', ['addr', 'add', `${NET.hostLink4}/24`, 'dev', 'up0']);
    host.execOk('ip', ['-6', 'addr', 'add', `${NET.hostLink6}/64`, 'dev', 'up0', 'nodad']);
    host.execOk('ip', ['link', 'set', 'up0', 'up']);
    // A new namespace inherits forwarding from the initial one; start from a host that does not
    // route, so that the tests see sluice sandbox turn it on and back off.
    host.execOk('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=0', 'net.ipv6.conf.all.forwarding=0']);
    host.execOk('ip', ['route', 'add', '198.18.0.0/24', 'via', NET.inetLink4]);
    host.execOk('ip', ['-6', 'route', 'add', '2001:db8:5c::/64', 'via', NET.inetLink6]);

    internet.execOk('ip', ['addr', 'add', `${NET.inetLink4}/24`, 'dev', 'up0']);
    internet.execOk('ip', ['-6', 'addr', 'add', `${NET.inetLink6}/64`, 'dev', 'up0', 'nodad']);
    internet.execOk('ip', ['link', 'set', 'up0', 'up']);
    // The sites' addresses sit on the link itself (no dummy interfaces needed in the kernel).
    for (const a of [NET.origin4, NET.dns, NET.canary4]) internet.execOk('ip', ['addr', 'add', `${a}/32`, 'dev', 'up0']);
    for (const a of [NET.origin6, NET.canary6]) internet.execOk('ip', ['-6', 'addr', 'add', `${a}/128`, 'dev', 'up0', 'nodad']);
    internet.execOk('ip', ['route', 'add', 'default', 'via', NET.hostLink4]);
    internet.execOk('ip', ['-6', 'route', 'add', 'default', 'via', NET.hostLink6]);

    // Counting rules: every packet to a canary address, of any protocol. IPv6 neighbour
    // discovery for the address is link housekeeping, not traffic from the pod.
    internet.execOk('iptables', ['-A', 'INPUT', '-d', NET.canary4, '-m', 'comment', '--comment', 'canary', '-j', 'ACCEPT']);
    internet.execOk('ip6tables', ['-A', 'INPUT', '-d', NET.canary6, '-p', 'ipv6-icmp', '--icmpv6-type', 'neighbour-solicitation', '-j', 'ACCEPT']);
    internet.execOk('ip6tables', ['-A', 'INPUT', '-d', NET.canary6, '-p', 'ipv6-icmp', '--icmpv6-type', 'neighbour-advertisement', '-j', 'ACCEPT']);
    internet.execOk('ip6tables', ['-A', 'INPUT', '-d', NET.canary6, '-m', 'comment', '--comment', 'canary', '-j', 'ACCEPT']);

    const dnsLog = join(dir, 'dnsmasq.log');
    writeFileSync(dnsLog, '');
    const records = [
      `--host-record=${NAMES.allowed},${NET.origin4},${NET.origin6}`,
      `--host-record=${NAMES.plain},${NET.origin4}`,
      `--host-record=${NAMES.git},${NET.origin4},${NET.origin6}`,
      `--host-record=${NAMES.evil},${NET.canary4},${NET.canary6}`,
    ];
    const dnsmasq = await startDaemon('ip', ['netns', 'exec', internet.name, 'dnsmasq', '--no-daemon', '--conf-file=/dev/null',
      `--listen-address=${NET.dns}`, '--bind-interfaces', '--port=53', '--no-resolv', '--no-hosts', '--user=root',
      '--local=/#/', '--log-queries', `--log-facility=${dnsLog}`, ...records],
    () => existsSync(dnsLog) && readFileSync(dnsLog, 'utf8').includes('started'), { timeoutMs: 10_000 });
    stops.push(dnsmasq.stop);

    const originCert = await pki.issue([NAMES.allowed, NAMES.plain, NAMES.git], 'origin');
    const canaryCert = await pki.issue([NAMES.evil], 'canary');
    const recordFile = join(dir, 'origin-records.ndjson');
    writeFileSync(recordFile, '');
    const originConfig: FakeOriginConfig = {
      record: recordFile,
      origins: [NET.origin4, NET.origin6],
      canaries: [NET.canary4, NET.canary6],
      canaryTcpPorts: CANARY_TCP_PORTS,
      canaryUdpPorts: CANARY_UDP_PORTS,
      originCert,
      canaryCert,
      gitRoot,
    };
    const configFile = join(dir, 'fake-origin.json');
    writeFileSync(configFile, JSON.stringify(originConfig));
    const origin = await startDaemon('ip', ['netns', 'exec', internet.name, process.execPath, originScript, configFile],
      (out) => out.includes('ready'), { timeoutMs: 15_000 });
    stops.push(origin.stop);

    const counters = (bin: string): number => {
      const listing = internet.execOk(bin, ['-L', 'INPUT', '-n', '-v', '-x']);
      const line = listing.split('\n').find((l) => l.includes('/* canary */'));
      return Number(line?.trim().split(/\s+/)[0] ?? NaN);
    };
    return {
      host,
      internet,
      canaryPackets: () => ({ v4: counters('iptables'), v6: counters('ip6tables') }),
      resetCanary: () => {
        internet.execOk('iptables', ['-Z', 'INPUT']);
        internet.execOk('ip6tables', ['-Z', 'INPUT']);
      },
      dnsQueries: () => [...readFileSync(dnsLog, 'utf8').matchAll(/query\[\w+\] (\S+) from/g)].map((m) => m[1] as string),
      originRecords: () => readFileSync(recordFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as OriginRecord),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A bare repository with one commit, prepared for git's dumb HTTP protocol. */
export function makeGitRepository(dir: string): { root: string; content: string } {
  const work = join(dir, 'git-work');
  const root = join(dir, 'git-root');
  const content = `hello from the fake internet ${process.pid}\n`;
  mkdirSync(work, { recursive: true });
  mkdirSync(root, { recursive: true });
  const git = (args: string[]): string => runOk('git', args, {
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@fake.test', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@fake.test', HOME: dir },
    timeoutMs: 20_000,
  });
  git(['init', '-q', '-b', 'main', work]);
  writeFileSync(join(work, 'README'), content);
  git(['-C', work, 'add', 'README']);
  git(['-C', work, 'commit', '-q', '-m', 'first']);
  git(['clone', '-q', '--bare', work, join(root, 'repo.git')]);
  git(['-C', join(root, 'repo.git'), 'update-server-info']);
  chmodSync(root, 0o755);
  return { root, content };
}

