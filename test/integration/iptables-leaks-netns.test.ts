// Ways out that loopback and neighbour discovery used to leave open (issue 11, items 8 and 9),
// against a real kernel: a "pod" namespace with sluice's rules applied and a "peer" namespace
// on the other end of a veth (the next hop). Each attack is first shown to work as sluice's
// exempt uid, so that a leak cannot go unnoticed, then shown to fail as the agent's uid and as
// root (the agent may run as root; with Docker's default capabilities it also has CAP_NET_RAW).
//
// - Docker's embedded DNS listens on 127.0.0.11 at ports of its own and forwards what it does not
//   know: emulated here by a listener on 127.0.0.11 at a random high port, with Docker's DNAT of
//   127.0.0.11:53 to it in nat OUTPUT (below sluice's jump, as Docker leaves it).
// - A flow sluice opened stays in conntrack after its socket closed: a packet on the same
//   addresses and ports skips nat, so it must not pass as "established".
// - Neighbour discovery messages from a process (raw socket) only with hop limit 255 to
//   link-local or link-scope multicast; the kernel's own must keep working, or IPv6 breaks.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetNs, kernelSuiteSkipReason, run, which, type RunResult } from '../helpers/netns.ts';

const script = fileURLToPath(new URL('../../iptables/sluice-init.sh', import.meta.url));
const probes = fileURLToPath(new URL('./leak-probes.py', import.meta.url));
const skip = kernelSuiteSkipReason('iptables-leaks-netns', ['ip', 'iptables-nft', 'ip6tables-nft', 'setpriv', 'python3']);
const backends = ['nft', ...(which('iptables-legacy') ? ['legacy'] : [])] as const;
// A python3 every uid can run (a pyenv shim under /root is not).
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : (which('python3') ?? 'python3');

const SLUICE_UID = 1337;
const AGENT_UID = 4242;
const NET = {
  pod4: '198.18.210.2',
  peer4: '198.18.210.1',
  pod6: '2001:db8:5c:210::2',
  peer6: '2001:db8:5c:210::1',
  podLink: 'fe80::2',
  peerLink: 'fe80::1',
  /** Beyond the peer: only a router would take it there. */
  beyond6: '2001:db8:5c:299::1',
} as const;
const EMBEDDED_DNS = '127.0.0.11';
const sluiceDnsPort = 15053;

type Who = 'sluice' | 'agent' | 'root';

/** Probe ports that do not collide between the backends' runs or with another test run. */
const randomPort = (): number => 20_000 + Math.floor(Math.random() * 30_000);

describe.skipIf(skip !== undefined).each(backends)('loopback and neighbour-discovery leaks, %s backend', (backend) => {
  let pod: NetNs;
  let peer: NetNs;
  const daemons: ChildProcess[] = [];
  const embeddedPort = randomPort();

  /** Runs a probe in the pod as `who`; `raw` adds CAP_NET_RAW (what Docker gives by default). */
  function probe(who: Who, args: string[], raw = false): RunResult {
    if (who === 'root') return pod.exec(python, [probes, ...args], { timeoutMs: 10_000 });
    const uid = who === 'sluice' ? SLUICE_UID : AGENT_UID;
    const caps = raw ? ['--inh-caps=-all,+net_raw', '--ambient-caps=+net_raw'] : ['--inh-caps=-all'];
    return pod.exec('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...caps, '--', python, probes, ...args],
      { timeoutMs: 10_000 });
  }

  /** Starts `leak-probes.py serve` in a namespace as `uid` and waits until it listens. */
  async function serve(ns: NetNs, uid: number, host: string, port: number, tag: string): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', ns.name, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups',
      '--inh-caps=-all', '--', python, probes, 'serve', host, String(port), tag], { stdio: ['ignore', 'pipe', 'pipe'] });
    daemons.push(child);
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve ${host}:${port} did not start: ${output}`)), 10_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString('utf8');
        if (output.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`serve ${host}:${port} exited ${code}: ${output}`));
      });
    });
  }

  /** How many packets whose body holds `marker` reached the peer while `send` ran. */
  function arrivalsAtPeer(marker: string, send: () => void): number {
    const rule = ['-t', 'raw', 'PREROUTING', '-i', 'lk0', '-p', 'ipv6-icmp', '-m', 'string', '--string', marker, '--algo', 'bm'];
    peer.execOk(`ip6tables-${backend}`, ['-w', '10', rule[0] as string, rule[1] as string, '-A', ...rule.slice(2)]);
    try {
      send();
      const listing = peer.execOk(`ip6tables-${backend}`, ['-w', '10', '-t', 'raw', '-L', 'PREROUTING', '-v', '-x', '-n']);
      const line = listing.split('\n').find((l) => l.includes(`"${marker}"`));
      return Number(line?.trim().split(/\s+/)[0] ?? Number.NaN);
    } finally {
      peer.execOk(`ip6tables-${backend}`, ['-w', '10', rule[0] as string, rule[1] as string, '-D', ...rule.slice(2)]);
    }
  }

  let markers = 0;
  /** Sends one neighbour-discovery message as `who` and returns how many reached the peer. */
  function ndp(who: Who, type: number, dst: string, hops: number): number {
    const marker = `sluice-ndp-${process.pid}-${backend}-${++markers}`;
    return arrivalsAtPeer(marker, () => {
      const sent = probe(who, ['ndp', String(type), dst, String(hops), marker], true);
      // The rules may refuse the packet inside sendto (EPERM): what counts is what arrived.
      expect(sent.stdout).toMatch(/^(sent|failed PermissionError)/);
    });
  }

  beforeAll(async () => {
    pod = NetNs.create(`lk-pod-${backend}`);
    peer = NetNs.create(`lk-peer-${backend}`);
    run('ip', ['link', 'add', 'lk0', 'netns', pod.name, 'type', 'veth', 'peer', 'name', 'lk0', 'netns', peer.name]);
    for (const [ns, v4, v6, link] of [[pod, NET.pod4, NET.pod6, NET.podLink], [peer, NET.peer4, NET.peer6, NET.peerLink]] as const) {
      // Fixed link-local addresses, no duplicate-address detection: nothing to wait for.
      ns.execOk('sysctl', ['-q', '-w', 'net.ipv6.conf.lk0.accept_dad=0']);
      ns.execOk('ip', ['link', 'set', 'lk0', 'addrgenmode', 'none']);
      ns.execOk('ip', ['addr', 'add', `${v4}/24`, 'dev', 'lk0']);
      ns.execOk('ip', ['-6', 'addr', 'add', `${v6}/64`, 'dev', 'lk0', 'nodad']);
      ns.execOk('ip', ['-6', 'addr', 'add', `${link}/64`, 'dev', 'lk0', 'nodad']);
      ns.execOk('ip', ['link', 'set', 'lk0', 'up']);
    }
    // The end brought up second may turn operationally up only at the kernel's next link-watch
    // run, up to a second later (both ends have ifindex 2 in their fresh namespaces, so the
    // event is not urgent); until then it has no IPv6 multicast route and drops the neighbour
    // solicitations sent to it, and a probe waits a second in the neighbour queue for the
    // retransmission: the NDP tests then counted 0 arrivals (a race measured at tens of ms).
    for (const ns of [pod, peer]) {
      const deadline = Date.now() + 5_000;
      while (ns.execOk('cat', ['/sys/class/net/lk0/operstate']).trim() !== 'up') {
        if (Date.now() > deadline) throw new Error(`${ns.name}: lk0 is not operationally up after 5 s`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    pod.execOk('ip', ['-6', 'route', 'add', 'default', 'via', NET.peer6]);
    // What Docker leaves in a container's namespace: the embedded DNS's DNAT in nat OUTPUT.
    pod.execOk(`iptables-${backend}-restore`, ['--noflush'], {
      input: [
        '*nat', ':DOCKER_OUTPUT - [0:0]', `-A OUTPUT -d ${EMBEDDED_DNS}/32 -j DOCKER_OUTPUT`,
        `-A DOCKER_OUTPUT -d ${EMBEDDED_DNS}/32 -p udp -m udp --dport 53 -j DNAT --to-destination ${EMBEDDED_DNS}:${embeddedPort}`,
        `-A DOCKER_OUTPUT -d ${EMBEDDED_DNS}/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination ${EMBEDDED_DNS}:${embeddedPort}`,
        'COMMIT', '',
      ].join('\n'),
    });
    const applied = pod.exec('bash', [script, 'apply'], { env: { ...process.env, SLUICE_IPTABLES: backend } });
    expect(applied.stderr).toContain('applied');
    // Docker's embedded DNS runs as root; sluice's DNS listener as sluice's uid; the peer's
    // resolver is somewhere outside.
    await serve(pod, 0, EMBEDDED_DNS, embeddedPort, 'embedded-dns');
    await serve(pod, SLUICE_UID, '127.0.0.1', sluiceDnsPort, 'sluice-dns');
    await serve(peer, 0, NET.peer4, 53, 'outside-dns');
  }, 60_000);

  afterAll(() => {
    for (const child of daemons) child.kill('SIGKILL');
    pod?.destroy();
    peer?.destroy();
  });

  describe('Docker\'s embedded DNS (127.0.0.11) is reachable only through sluice\'s DNS listener', () => {
    it.each(['udp', 'tcp'] as const)('sluice\'s uid reaches it over %s, at its own port and through Docker\'s DNAT of port 53', (transport) => {
      expect(probe('sluice', [transport, EMBEDDED_DNS, String(embeddedPort)]).stdout).toBe('reply embedded-dns\n');
      expect(probe('sluice', [transport, EMBEDDED_DNS, '53']).stdout).toBe('reply embedded-dns\n');
    });

    it.each([
      ['agent', 'udp'], ['agent', 'tcp'], ['root', 'udp'], ['root', 'tcp'],
    ] as const)('as %s it cannot be reached at its own port over %s', (who, transport) => {
      const r = probe(who, [transport, EMBEDDED_DNS, String(embeddedPort)]);
      expect(r.stdout).not.toContain('embedded-dns');
      expect(r.status).not.toBe(0);
    });

    it('the agent cannot reach any other port of 127.0.0.11 either', () => {
      const r = probe('agent', ['tcp', EMBEDDED_DNS, String(sluiceDnsPort)]);
      expect(r.status).not.toBe(0);
    });

    it.each(['udp', 'tcp'] as const)('DNS the agent sends to 127.0.0.11:53 over %s is answered by sluice\'s listener', (transport) => {
      expect(probe('agent', [transport, EMBEDDED_DNS, '53']).stdout).toBe('reply sluice-dns\n');
    });

    it('a flow sluice opened to 127.0.0.11:53 cannot be reused by the agent once sluice\'s socket closed', () => {
      const port = String(randomPort());
      expect(probe('sluice', ['udp', EMBEDDED_DNS, '53', port]).stdout).toBe('reply embedded-dns\n');
      const reused = probe('agent', ['udp', EMBEDDED_DNS, '53', port]);
      expect(reused.stdout).not.toContain('embedded-dns');
    });
  });

  describe('conntrack entries of sluice\'s own flows are no way out', () => {
    it('the agent reusing the addresses and port of sluice\'s finished DNS query to an outside resolver is refused', () => {
      const port = String(randomPort());
      expect(probe('sluice', ['udp', NET.peer4, '53', port]).stdout).toBe('reply outside-dns\n');
      const reused = probe('agent', ['udp', NET.peer4, '53', port]);
      expect(reused.stdout).not.toContain('outside-dns');
      expect(reused.status).not.toBe(0);
    });
  });

  describe('loopback stays open for the agent\'s own servers', () => {
    it.each([['127.0.0.1'], ['127.0.0.2'], ['::1']])('a server of the agent on %s answers the agent', async (host) => {
      const port = randomPort();
      await serve(pod, AGENT_UID, host, port, 'agent-server');
      expect(probe('agent', ['tcp', host, String(port)]).stdout).toBe('reply agent-server\n');
      expect(probe('agent', ['udp', host, String(port)]).stdout).toBe('reply agent-server\n');
    });
  });

  describe('ICMPv6 neighbour discovery', () => {
    it('sluice\'s uid can send each probe below (so a zero further down means refused, not lost)', () => {
      expect(ndp('sluice', 135, `${NET.peerLink}%lk0`, 64)).toBe(1);
      expect(ndp('sluice', 135, NET.peer6, 255)).toBe(1);
      expect(ndp('sluice', 136, NET.beyond6, 255)).toBe(1);
      expect(ndp('sluice', 134, 'ff05::2', 255)).toBe(1);
      expect(ndp('sluice', 128, `${NET.peerLink}%lk0`, 255)).toBe(1);
    });

    it.each(['agent', 'root'] as const)('as %s with CAP_NET_RAW: hop limit below 255, global or wider-scope destinations, and other types are dropped', (who) => {
      expect(ndp(who, 135, `${NET.peerLink}%lk0`, 64)).toBe(0); // hop limit 64, even to link-local
      expect(ndp(who, 135, `${NET.peerLink}%lk0`, 254)).toBe(0);
      expect(ndp(who, 135, NET.peer6, 255)).toBe(0); // the neighbour's global address
      expect(ndp(who, 136, NET.beyond6, 255)).toBe(0); // an address a router would forward to
      expect(ndp(who, 134, 'ff05::2', 255)).toBe(0); // site-scope multicast
      expect(ndp(who, 128, `${NET.peerLink}%lk0`, 255)).toBe(0); // not neighbour discovery at all
    });

    it('as the agent with CAP_NET_RAW: hop limit 255 to link-local or link-scope multicast still goes (it cannot leave the link)', () => {
      expect(ndp('agent', 135, `${NET.peerLink}%lk0`, 255)).toBe(1);
      expect(ndp('agent', 135, 'ff02::1:ff00:1%lk0', 255)).toBe(1);
    });

    it('the kernel\'s own neighbour discovery works: the peer resolves the pod at its global address, sluice reaches the peer', async () => {
      const port = randomPort();
      await serve(peer, 0, '::', port, 'peer-server');
      await serve(pod, AGENT_UID, '::', port, 'pod-server');
      for (let round = 0; round < 2; round += 1) {
        // Forget every neighbour on both sides: each exchange below needs fresh solicitations.
        pod.execOk('ip', ['-6', 'neigh', 'flush', 'dev', 'lk0']);
        peer.execOk('ip', ['-6', 'neigh', 'flush', 'dev', 'lk0']);
        // The peer asks from its global address, so the pod's kernel answers there (unicast,
        // global): a connection coming in (a probe, a scrape) needs that answer.
        expect(peer.exec(python, [probes, 'tcp', NET.pod6, String(port)]).stdout).toBe('reply pod-server\n');
        expect(probe('sluice', ['tcp', NET.peer6, String(port)]).stdout).toBe('reply peer-server\n');
        expect(probe('sluice', ['tcp', `${NET.peerLink}%lk0`, String(port)]).stdout).toBe('reply peer-server\n');
      }
      expect(pod.execOk('ip', ['-6', 'neigh', 'show', 'dev', 'lk0'])).toMatch(/lladdr/);
    });
  });
});
