// The "cluster" around the pods the runner starts: one internal Docker network standing in for
// the pod network (IPv4 in 198.18.0.0/15 and IPv6 in 2001:db8::/32, no route off the machine),
// a dnsmasq standing in for the cluster DNS (pods' resolv.conf names it, as kubelet writes
// kube-dns there), and the compose suite's fake origin serving the test's HTTPS names. The
// names the pods use are known only to that DNS server, as real names come from a real resolver.
import { run } from '../helpers/process.ts';
import { HERE as COMPOSE_DIR, mustRun } from '../compose/fixture.ts';
import { join } from 'node:path';

export const NETWORK = 'sluicek8stest';
export const SUBNET4 = '198.19.110.0/24';
export const SUBNET6 = '2001:db8:110::/64';
export const ORIGIN_IP = '198.19.110.10';
export const ORIGIN_IP6 = '2001:db8:110::10';
export const DNS_IP = '198.19.110.53';
export const DNS_IP6 = '2001:db8:110::53';
/** A listener for nothing but leaks (leak-listener.py): IPv4 and IPv6, TCP 443/2222, UDP 53/9999. */
export const LEAK_IP = '198.19.110.20';
export const LEAK_IP6 = '2001:db8:110::20';
/** Names the cluster DNS answers with the origin's address; only the first two are allowlisted. */
export const ORIGIN_NAMES = ['api.anthropic.com', 'api.openai.com', 'example.com'];
const LABEL = 'dev.sluice.test.k8s-cluster';

export interface FakeCluster {
  network: string;
  dnsId: string;
  originId: string;
  leakId: string;
  stop(): Promise<void>;
}

async function removeExisting(): Promise<void> {
  const ids = (await run('docker', ['ps', '-aq', '--filter', `label=${LABEL}`], { timeoutMs: 30_000 })).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await run('docker', ['rm', '-f', ...ids], { timeoutMs: 60_000 });
  await run('docker', ['network', 'rm', NETWORK], { timeoutMs: 30_000 });
}

/** Starts the network, the DNS server and the origin (PKI and records from the compose fixture's prepareFiles). */
export async function startFakeCluster(tools: string, dir: string): Promise<FakeCluster> {
  await removeExisting(); // what a killed run left
  await mustRun('docker', ['network', 'create', '--internal', '--ipv6', '--subnet', SUBNET4, '--subnet', SUBNET6,
    '--label', LABEL, NETWORK], { timeoutMs: 30_000 });
  const stop = async (): Promise<void> => {
    await removeExisting();
    const left = (await run('docker', ['ps', '-aq', '--filter', `label=${LABEL}`], { timeoutMs: 30_000 })).stdout.trim();
    const net = await run('docker', ['network', 'inspect', NETWORK], { timeoutMs: 30_000 });
    if (left !== '' || net.code === 0) throw new Error(`fake cluster left behind: ${left} ${net.code === 0 ? NETWORK : ''}`);
  };
  try {
    const dnsId = (await mustRun('docker', ['run', '-d', '--name', `${NETWORK}-dns`, '--label', LABEL, '--network', NETWORK, '--ip', DNS_IP, '--ip6', DNS_IP6,
      '--no-healthcheck', tools, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--log-queries', '--log-facility=-',
      ...ORIGIN_NAMES.map((n) => `--address=/${n}/${ORIGIN_IP}`), '--address=/#/'], { timeoutMs: 60_000 })).trim();
    const originId = (await mustRun('docker', ['run', '-d', '--name', `${NETWORK}-origin`, '--label', LABEL, '--network', NETWORK,
      '--ip', ORIGIN_IP, '--ip6', ORIGIN_IP6, '--no-healthcheck',
      '-v', `${join(COMPOSE_DIR, 'fake-origin.ts')}:/fake/fake-origin.ts:ro`, '-v', `${join(dir, 'pki')}:/pki:ro`,
      '-v', `${join(dir, 'records')}:/records`, tools, 'node', '/fake/fake-origin.ts'], { timeoutMs: 60_000 })).trim();
    const leakId = (await mustRun('docker', ['run', '-d', '--name', `${NETWORK}-leak`, '--label', LABEL, '--network', NETWORK,
      '--ip', LEAK_IP, '--ip6', LEAK_IP6, '--no-healthcheck', '-v', `${join(import.meta.dirname, 'leak-listener.py')}:/leak-listener.py:ro`,
      tools, 'python3', '/leak-listener.py'], { timeoutMs: 60_000 })).trim();
    // Ready when each has said so (bounded).
    for (const [cid, line] of [[originId, 'fake origin ready'], [leakId, 'leak listener ready']] as const) {
      const deadline = Date.now() + 30_000;
      while (!(await run('docker', ['logs', cid], { timeoutMs: 10_000 })).stdout.includes(line)) {
        if (Date.now() > deadline) throw new Error(`${line}: not seen within 30 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return { network: NETWORK, dnsId, originId, leakId, stop };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}
