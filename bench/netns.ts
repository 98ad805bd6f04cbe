// The bench topology: two network namespaces joined by one veth pair, addressed inside the
// benchmarking range 198.18.0.0/15, so no bench packet can leave this machine (neither
// namespace has any other interface or route). The host namespace is never touched except
// for /etc/netns/<ns>/, which `ip netns exec` bind-mounts over /etc.
//
//   sluice-bench-client (load tool + peer)          sluice-bench-origin (nginx)
//   sbc0 198.18.10.1/30  <──────── veth ────────>  sbo0 198.18.10.2/30
//
// Capture is real iptables REDIRECT in the client namespace's nat OUTPUT, like production:
// the peer's uid is exempted, loopback is left alone, tcp/443 and tcp/80 go to the peer.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { run } from './exec.ts';

export const CLIENT_NS = 'sluice-bench-client';
export const ORIGIN_NS = 'sluice-bench-origin';
export const CLIENT_ADDR = '198.18.10.1';
export const ORIGIN_ADDR = '198.18.10.2';
export const ORIGIN_NAME = 'origin.bench.test';
const CLIENT_IF = 'sbc0';
const ORIGIN_IF = 'sbo0';
const CHAIN = 'SLUICE_BENCH';

function hostsFile(): string {
  return `127.0.0.1 localhost\n::1 localhost ip6-localhost\n${ORIGIN_ADDR} ${ORIGIN_NAME}\n`;
}

/**
 * Ends every process still inside one of the bench's namespaces (a helper a peer forked into
 * a process group of its own, say). Only bench processes live there, so this ends nothing else.
 */
export async function killNamespaceProcesses(ns: string): Promise<number> {
  const { stdout } = await run(['ip', 'netns', 'pids', ns], { allowFail: true, timeoutMs: 10_000 });
  const pids = stdout.split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids.length;
}

/** Removes everything setupTopology creates; safe to call when nothing exists. */
export async function teardownTopology(): Promise<void> {
  for (const ns of [CLIENT_NS, ORIGIN_NS]) {
    await killNamespaceProcesses(ns);
    // Deleting a namespace also deletes its end of the veth (and with it the peer end).
    await run(['ip', 'netns', 'delete', ns], { allowFail: true, timeoutMs: 10_000 });
    await rm(`/etc/netns/${ns}`, { recursive: true, force: true });
  }
}

export async function setupTopology(): Promise<void> {
  await teardownTopology();
  for (const ns of [CLIENT_NS, ORIGIN_NS]) {
    await run(['ip', 'netns', 'add', ns]);
    await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    await mkdir(`/etc/netns/${ns}`, { recursive: true });
    await writeFile(`/etc/netns/${ns}/hosts`, hostsFile());
    // No resolver is reachable from these namespaces; pointing at the namespace's own
    // loopback makes any stray lookup fail at once instead of timing out.
    await writeFile(`/etc/netns/${ns}/resolv.conf`, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
  }
  await run(['ip', '-n', CLIENT_NS, 'link', 'add', CLIENT_IF, 'type', 'veth', 'peer', 'name', ORIGIN_IF, 'netns', ORIGIN_NS]);
  await run(['ip', '-n', CLIENT_NS, 'addr', 'add', `${CLIENT_ADDR}/30`, 'dev', CLIENT_IF]);
  await run(['ip', '-n', ORIGIN_NS, 'addr', 'add', `${ORIGIN_ADDR}/30`, 'dev', ORIGIN_IF]);
  await run(['ip', '-n', CLIENT_NS, 'link', 'set', CLIENT_IF, 'up']);
  await run(['ip', '-n', ORIGIN_NS, 'link', 'set', ORIGIN_IF, 'up']);
  // Many short connections (the new-connections test) would otherwise run out of ports.
  await run(['ip', 'netns', 'exec', CLIENT_NS, 'sysctl', '-q', '-w', 'net.ipv4.tcp_tw_reuse=1', 'net.ipv4.ip_local_port_range=10000 65000']);
  await run(['ip', 'netns', 'exec', ORIGIN_NS, 'sysctl', '-q', '-w', 'net.core.somaxconn=8192']);
  await run(['ip', 'netns', 'exec', CLIENT_NS, 'sysctl', '-q', '-w', 'net.core.somaxconn=8192']);
  await run(['ip', 'netns', 'exec', CLIENT_NS, 'iptables', '-t', 'nat', '-N', CHAIN]);
  await run(['ip', 'netns', 'exec', CLIENT_NS, 'iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-j', CHAIN]);
}

export interface CaptureTarget {
  /** The peer's uid: its own connections go out untouched. */
  uid: number;
  /** Local port that captured tcp/443 lands on. */
  httpsPort: number;
  /** Local port that captured tcp/80 lands on. */
  httpPort: number;
}

/** Points the capture at one peer, or (null) removes it for the direct baseline. */
export async function setCapture(target: CaptureTarget | null): Promise<void> {
  const rules = [`*nat`, `:${CHAIN} - [0:0]`];
  if (target !== null) {
    rules.push(
      `-A ${CHAIN} -m owner --uid-owner ${target.uid} -j RETURN`,
      `-A ${CHAIN} -d 127.0.0.0/8 -j RETURN`,
      `-A ${CHAIN} -p tcp --dport 443 -j REDIRECT --to-ports ${target.httpsPort}`,
      `-A ${CHAIN} -p tcp --dport 80 -j REDIRECT --to-ports ${target.httpPort}`,
    );
  }
  rules.push('COMMIT', '');
  // --noflush keeps OUTPUT's jump; declaring the chain flushes just that chain, atomically.
  await run(['ip', 'netns', 'exec', CLIENT_NS, 'iptables-restore', '--noflush'], { input: rules.join('\n') });
  // NAT is decided when a flow's conntrack entry is created: an entry left by the previous
  // peer's thousands of connections (closing, reset) whose tuple a new connection reuses would
  // send that connection where the old one went. Each peer starts with none.
  await run(['ip', 'netns', 'exec', CLIENT_NS, 'conntrack', '-F'], { allowFail: true });
}

/** The current capture rules, for the report's record of what was measured. */
export async function describeCapture(): Promise<string> {
  const { stdout } = await run(['ip', 'netns', 'exec', CLIENT_NS, 'iptables', '-t', 'nat', '-S', CHAIN]);
  return stdout.trim();
}
