// End to end, in network namespaces (README.md beside this file): `sluice sandbox` builds the
// pod, the fake internet stands behind a fake host, and real unmodified clients run as the
// agent. Every bypass is first shown to reach the fake internet as sluice's exempt uid, so a
// leak cannot go unnoticed, then shown not to leave as the agent.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelSuiteSkipReason, run, runOk } from '../helpers/netns.ts';
import { createTestPki } from '../helpers/pki.ts';
import { NAMES, NET, makeGitRepository, startFakeInternet, type FakeInternet } from './fake-internet.ts';
import { AGENT_UID, SLUICE_UID, podClients, startSandbox, type Pod, type SandboxProcess } from './pod.ts';
import { killAll } from '../../src/sandbox/network.ts';

const skip = kernelSuiteSkipReason('e2e (network namespaces)', [
  'ip', 'iptables', 'ip6tables', 'setpriv', 'dnsmasq', 'curl', 'git', 'python3', 'openssl',
]);
const initScript = fileURLToPath(new URL('../../iptables/sluice-init.sh', import.meta.url));
const probes = fileURLToPath(new URL('./probes.py', import.meta.url));
/** A listener and raw neighbour-discovery probes, shared with the iptables integration suite. */
const leakProbes = fileURLToPath(new URL('../integration/leak-probes.py', import.meta.url));
/** A real secret, held by sluice only; the agent holds the surrogate. */
const SECRET_ENV = { SLUICE_E2E_SECRET: `real-secret-${process.pid}-do-not-leak` };
const SURROGATE = 'sk-e2e-surrogate-0123456789';
const unique = (label: string): string => `${label}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;

/** logs/access.ndjson under `dir` once it contains `text`, or as it is after 5 s: sluice writes it in batches (at least every second). */
function accessLogOnceItHas(dir: string, text: string): string {
  let log = '';
  for (const deadline = Date.now() + 5_000; Date.now() < deadline; Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)) {
    log = readFileSync(join(dir, 'logs', 'access.ndjson'), 'utf8');
    if (log.includes(text)) break;
  }
  return log;
}

describe.skipIf(skip !== undefined)('sluice sandbox end to end', () => {
  let dir: string;
  let fi: FakeInternet;
  let sandbox: SandboxProcess;
  let pod: Pod;
  let caDir: string;
  let sluiceCaCn: string;
  let gitContent: string;
  let pkiDir: string | undefined;
  const podName = `sluice-t-${process.pid}-pod`;

  /** Runs `attempt`, then asserts that nothing reached the canary and no listed name reached DNS. */
  function expectNoLeak<T>(attempt: () => T, names: string[] = []): T {
    fi.resetCanary();
    const queriesBefore = fi.dnsQueries().length;
    const result = attempt();
    expect(fi.canaryPackets()).toEqual({ v4: 0, v6: 0 });
    const queries = fi.dnsQueries().slice(queriesBefore);
    for (const name of names) expect(queries).not.toContain(name);
    return result;
  }

  /** Processes whose command line names this run's config: sluice instances (and sandboxes). */
  function processesUsingConfig(): number[] {
    const config = join(dir, 'sluice.toml');
    return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
      try {
        const cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
        return cmdline.includes(config) && Number(p) !== process.pid ? [Number(p)] : [];
      } catch {
        return []; // gone meanwhile
      }
    });
  }

  function canaryHitBy(attempt: () => unknown): { v4: number; v6: number } {
    fi.resetCanary();
    attempt();
    return fi.canaryPackets();
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
    chmodSync(dir, 0o755); // sluice (uid 1337) reads its config here
    const pki = await createTestPki();
    pkiDir = pki.dir;
    const git = makeGitRepository(dir);
    gitContent = git.content;
    fi = await startFakeInternet(dir, pki, git.root);

    const upstreamCa = join(dir, 'origin-ca.crt');
    copyFileSync(pki.caCert, upstreamCa);
    chmodSync(upstreamCa, 0o644);
    const agentHome = join(dir, 'agent-home');
    mkdirSync(agentHome);
    chownSync(agentHome, AGENT_UID, AGENT_UID);
    caDir = join(dir, 'certs');
    const config = join(dir, 'sluice.toml');
    writeFileSync(config, [
      '[proxy]', 'agent = "e2e"', `extra_upstream_ca = "${upstreamCa}"`,
      '[dns]', `upstream = "${NET.dns}"`,
      // The fake internet lives in 198.18.0.0/15, a special-purpose range: opt in per host.
      ...[NAMES.allowed, NAMES.plain, NAMES.git].flatMap((host) => ['[[allow]]', `host = "${host}"`, 'private = true']),
      '[credentials.demo]', `hosts = ["${NAMES.allowed}"]`, `surrogate = "${SURROGATE}"`, 'secret = { env = "SLUICE_E2E_SECRET" }',
      '',
    ].join('\n'));
    chmodSync(config, 0o644);

    sandbox = await startSandbox(
      ['-c', config, '--name', podName, '--uplink-netns', fi.host.name, '--subnet6', NET.podSubnet6, '--user', String(AGENT_UID)],
      ['sleep', '600'],
      SECRET_ENV,
    );
    pod = podClients(podName, caDir, agentHome);
    // Unprivileged ICMP sockets for every uid, so that the ICMP probes really send.
    runOk('ip', ['netns', 'exec', podName, 'sysctl', '-q', '-w', 'net.ipv4.ping_group_range=0 2147483647']);
    const subject = runOk('openssl', ['x509', '-in', join(caDir, 'ca.crt'), '-noout', '-subject', '-nameopt', 'RFC2253']);
    sluiceCaCn = /CN=([^,\n]+)/.exec(subject)?.[1] ?? 'missing CN';
  }, 90_000);

  afterAll(async () => {
    if (sandbox && sandbox.child.exitCode === null) {
      sandbox.child.kill('SIGKILL');
      await sandbox.exited;
    }
    killAll(podName); // only after a failure: sluice sandbox normally removed everything
    if (dir) for (const pid of processesUsingConfig()) process.kill(pid, 'SIGKILL');
    run('ip', ['netns', 'del', podName]);
    rmSync(`/etc/netns/${podName}`, { recursive: true, force: true });
    await fi?.stop();
    for (const d of [dir, pkiDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  describe('allowlisted destinations work through sluice, with real clients', () => {
    it('curl over HTTPS sees sluice\'s certificate, and the origin sees the name', () => {
      const r = pod.asAgent('curl', ['-sS', '-v', `https://${NAMES.allowed}/hello`]);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ origin: 'fake', scheme: 'https', host: NAMES.allowed, sni: NAMES.allowed });
      expect(r.stderr).toMatch(new RegExp(`issuer: .*CN=${sluiceCaCn.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    });

    it('the origin gets the real secret for the agent\'s surrogate', () => {
      const before = fi.originRecords().length;
      const r = pod.asAgent('curl', ['-sS', '-H', `Authorization: Bearer ${SURROGATE}`, `https://${NAMES.allowed}/hello`]);
      expect(r.status).toBe(0);
      const seen = fi.originRecords().slice(before).filter((rec) => rec.kind === 'request');
      expect(seen.map((rec) => rec.authorization)).toEqual([`Bearer ${SECRET_ENV.SLUICE_E2E_SECRET}`]);
    });

    it('over IPv6 too: the AAAA answer is captured, not bypassed', () => {
      const r = pod.asAgent('curl', ['-sS', '-6', `https://${NAMES.allowed}/hello`]);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ host: NAMES.allowed });
    });

    it('plain HTTP', () => {
      const r = pod.asAgent('curl', ['-sS', `http://${NAMES.plain}/hello`]);
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ scheme: 'http', host: NAMES.plain });
    });

    it('git clone over HTTPS', () => {
      const target = `/tmp/${unique('clone')}`;
      const r = pod.asAgent('git', ['clone', '-q', `https://${NAMES.git}/git/repo.git`, target], { timeoutMs: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(pod.asAgent('cat', [`${target}/README`]).stdout).toBe(gitContent);
      rmSync(target, { recursive: true, force: true });
    });

    it('python3 urllib', () => {
      const r = pod.asAgent('python3', [probes, 'https', `https://${NAMES.allowed}/hello`]);
      expect(r.stdout).toMatch(/^200 /);
    });

    it('Node fetch (NODE_EXTRA_CA_CERTS)', () => {
      const r = pod.asAgent(process.execPath, ['-e',
        `fetch('https://${NAMES.allowed}/hello').then(async (r) => console.log(r.status, await r.text()), (e) => { console.log('failed', e.cause?.code ?? e); process.exitCode = 1; })`]);
      expect(r.stdout).toMatch(/^200 \{"origin":"fake"/);
    });

    it('sluice connects to the name, not to an address the agent pinned', () => {
      const r = expectNoLeak(() => pod.asAgent('curl', ['-sS', '--resolve', `${NAMES.allowed}:443:${NET.canary4}`, `https://${NAMES.allowed}/hello`]));
      expect(JSON.parse(r.stdout)).toMatchObject({ host: NAMES.allowed });
    });

    it('the agent\'s own servers on loopback keep working (IPv4 and IPv6)', () => {
      for (const [bind, url] of [['127.0.0.1', 'http://127.0.0.1:18080/'], ['::1', 'http://[::1]:18081/']] as const) {
        const port = url.includes('18080') ? '18080' : '18081';
        const script = `python3 -m http.server ${port} --bind ${bind} >/dev/null 2>&1 & pid=$!; `
          + `for i in $(seq 1 25); do code=$(curl -s -o /dev/null -w '%{http_code}' -g ${url}); [ "$code" = 200 ] && break; sleep 0.2; done; kill $pid; echo "$code"`;
        expect(pod.asAgent('sh', ['-c', script]).stdout.trim()).toBe('200');
      }
    });
  });

  describe('the fake internet is reachable without sluice (sluice\'s own uid), so a leak would show', () => {
    it.each([
      ['HTTPS to the canary address', 'curl', ['-sk', '--max-time', '3', `https://${NET.canary4}/`], 'v4'],
      ['HTTPS to the canary over IPv6', 'curl', ['-sk', '-g', '--max-time', '3', `https://[${NET.canary6}]/`], 'v6'],
      ['UDP', 'python3', [probes, 'udp', NET.canary4, '443'], 'v4'],
      ['UDP over IPv6', 'python3', [probes, 'udp', NET.canary6, '443'], 'v6'],
      ['ICMP echo', 'python3', [probes, 'icmp', NET.canary4], 'v4'],
      ['ICMPv6 echo', 'python3', [probes, 'icmp', NET.canary6], 'v6'],
      ['TCP to another port', 'python3', [probes, 'tcp', NET.canary4, '22'], 'v4'],
    ] as const)('%s', (_what, cmd, args, family) => {
      let status: number | null = null;
      const hits = canaryHitBy(() => (status = pod.asSluice(cmd, args).status));
      if (cmd === 'python3') expect(status).toBe(0); // the canary answered (curl gets no HTTP from it)
      expect(hits[family]).toBeGreaterThan(0);
    });

    it('DNS queries reach the resolver, and it logs them', () => {
      const name = `${unique('calibrate')}.${NAMES.evil}`;
      const r = pod.asSluice('python3', [probes, 'dns', NET.dns, name]);
      expect(r.stdout).toMatch(/^rcode 3 /); // dnsmasq knows evil.fake.test only, not names under it
      expect(fi.dnsQueries()).toContain(name);
    });
  });

  describe('every bypass fails and nothing reaches the fake internet', () => {
    it('a name that is not allowlisted gets sluice\'s 403, and its query never leaves', () => {
      for (const family of ['-4', '-6']) {
        const r = expectNoLeak(() => pod.asAgent('curl', ['-sS', family, '-o', '/dev/null', '-w', '%{http_code}', `https://${NAMES.evil}/`]), [NAMES.evil]);
        expect(r.stdout).toBe('403');
      }
    });

    it.each([
      ['HTTPS to an IP literal (no SNI)', 'curl', ['-sk', '--max-time', '5', `https://${NET.canary4}/`]],
      ['HTTPS to an IPv6 literal', 'curl', ['-sk', '-g', '--max-time', '5', `https://[${NET.canary6}]/`]],
      ['plain HTTP to an IP literal', 'curl', ['-sS', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', `http://${NET.canary4}/`]],
      ['UDP to 443 (QUIC)', 'python3', [probes, 'udp', NET.canary4, '443']],
      ['UDP to 443 over IPv6', 'python3', [probes, 'udp', NET.canary6, '443']],
      ['UDP to another port', 'python3', [probes, 'udp', NET.canary4, '9999']],
      ['ICMP echo', 'python3', [probes, 'icmp', NET.canary4]],
      ['ICMPv6 echo', 'python3', [probes, 'icmp', NET.canary6]],
      ['TCP to port 22', 'python3', [probes, 'tcp', NET.canary4, '22']],
      ['TCP to port 5432 over IPv6', 'python3', [probes, 'tcp', NET.canary6, '5432']],
      ['TCP to port 8080', 'curl', ['-sS', '--max-time', '5', `http://${NET.canary4}:8080/`]],
    ] as const)('%s', (_what, cmd, args) => {
      const r = expectNoLeak(() => pod.asAgent(cmd, args));
      if (cmd === 'python3') expect(r.status).not.toBe(0);
      expect(r.stdout).not.toContain('canary');
      if ((args as readonly string[]).includes('-w')) expect(r.stdout).toBe('403');
    });

    it.each([
      ['the fake internet\'s resolver', NET.dns, 'udp'],
      ['an outside resolver', NET.canary4, 'udp'],
      ['an outside resolver over TCP', NET.canary4, 'tcp'],
      ['an outside resolver over IPv6', NET.canary6, 'udp'],
      ['Docker\'s embedded DNS address', '127.0.0.11', 'udp'],
    ] as const)('DNS sent straight to %s is answered by sluice and never leaves', (_what, server, transport) => {
      const name = `${unique('exfil')}.${NAMES.evil}`;
      const r = expectNoLeak(() => pod.asAgent('python3', [probes, 'dns', server, name, transport]), [name]);
      expect(r.stdout).toContain('198.18.255.254');
    });

    it('Docker\'s embedded DNS at a port of its own (127.0.0.11) answers sluice\'s uid, never the agent', async () => {
      // As Docker runs it: root's listener on 127.0.0.11 at a random high port (in /proc/net/udp).
      const port = 20_000 + Math.floor(Math.random() * 30_000);
      const server = spawn('ip', ['netns', 'exec', podName, 'python3', leakProbes, 'serve', '127.0.0.11', String(port), 'embedded-dns'],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('the 127.0.0.11 listener did not start')), 10_000);
          server.stdout.on('data', (c: Buffer) => {
            if (c.toString('utf8').includes('ready')) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        for (const transport of ['udp', 'tcp']) {
          expect(pod.asSluice('python3', [leakProbes, transport, '127.0.0.11', String(port)]).stdout).toBe('reply embedded-dns\n');
          const agent = pod.asAgent('python3', [leakProbes, transport, '127.0.0.11', String(port)]);
          expect(agent.stdout).not.toContain('embedded-dns');
          expect(agent.status).not.toBe(0);
        }
      } finally {
        server.kill('SIGKILL');
      }
    });

    it('neighbour discovery from a raw socket (CAP_NET_RAW, as Docker grants root) does not leave the link', () => {
      // Refused packets fail inside sendto (EPERM): the verdict is the canary's counters.
      const ndp = (uid: number, type: number) => run('ip', ['netns', 'exec', podName, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`,
        '--clear-groups', '--inh-caps=-all,+net_raw', '--ambient-caps=+net_raw', '--', 'python3', leakProbes, 'ndp', String(type),
        NET.canary6, '255', unique('ndp')], { env: { PATH: '/usr/local/bin:/usr/bin:/bin' } });
      // Router solicitation and redirect (the canary's counters leave NS/NA to it aside).
      for (const type of [133, 137]) {
        expect(canaryHitBy(() => ndp(SLUICE_UID, type)).v6).toBeGreaterThan(0);
        expectNoLeak(() => ndp(AGENT_UID, type));
        expectNoLeak(() => pod.asRoot('python3', [leakProbes, 'ndp', String(type), NET.canary6, '255', unique('ndp')]));
      }
    });

    it('the system resolver gets the sinkhole for a name that is not allowlisted, and real answers for one that is', () => {
      const name = `${unique('exfil')}.${NAMES.evil}`;
      const denied = expectNoLeak(() => pod.asAgent('getent', ['ahostsv4', name]), [name]);
      expect(denied.stdout).toContain('198.18.255.254');
      const allowed = pod.asAgent('getent', ['ahostsv4', NAMES.allowed]);
      expect(allowed.stdout).toContain(NET.origin4);
    });

    it('sluice\'s admin port is refused to the agent (and answers sluice\'s own uid)', () => {
      for (const url of ['http://127.0.0.1:15000/healthz', 'http://[::1]:15000/healthz']) {
        const agent = pod.asAgent('curl', ['-sS', '-g', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', url]);
        expect(agent.stdout).toBe('000');
        expect(agent.status).not.toBe(0);
      }
      const own = pod.asSluice('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:15000/healthz']);
      expect(own.stdout).toBe('200');
    });

    it('a forged Host/SNI pair is refused and reaches no origin', () => {
      const before = fi.originRecords().length;
      const hostForged = expectNoLeak(() => pod.asAgent('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}',
        '-H', `Host: ${NAMES.evil}`, `https://${NAMES.allowed}/hello`]));
      // 421 Misdirected Request or 403: either way refused, and logged as domain fronting.
      expect(['403', '421']).toContain(hostForged.stdout);
      expect(accessLogOnceItHas(dir, 'host_sni_mismatch')).toContain('host_sni_mismatch');
      const sniForged = expectNoLeak(() => pod.asAgent('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}',
        '--connect-to', `${NAMES.evil}:443:${NET.origin4}:443`, '-H', `Host: ${NAMES.allowed}`, `https://${NAMES.evil}/hello`]));
      expect(['403', '421']).toContain(sniForged.stdout);
      expect(fi.originRecords().slice(before)).toEqual([]);
    });
  });

  describe('the rules', () => {
    it('keep sluice from being a proxy for its neighbours: its ports take nothing from outside', () => {
      const podAddress = /sandbox (\d+\.\d+\.\d+\.\d+)/.exec(sandbox.output())?.[1] as string;
      const dropped = () => Number(pod.asRoot('iptables', ['-L', 'SLUICE_INPUT', '-n', '-v', '-x']).stdout
        .split('\n').filter((l) => l.includes('DROP')).reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[0]), 0));
      const before = dropped();
      const r = fi.host.exec('curl', ['-sk', '--max-time', '2', `https://${podAddress}:15443/`]);
      expect(r.status).not.toBe(0);
      fi.host.exec('python3', [probes, 'dns', podAddress, NAMES.allowed]); // to :53, not redirected from outside
      const u = fi.host.exec('python3', ['-c', `import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('${podAddress}', 15053))`]);
      expect(u.status).toBe(0);
      expect(dropped()).toBeGreaterThanOrEqual(before + 2);
    });

    it('leave the access log where the agent cannot read it', () => {
      const r = pod.asAgent('cat', [join(dir, 'logs', 'access.ndjson')]);
      expect(r.status).not.toBe(0);
      expect(accessLogOnceItHas(dir, 'not_allowlisted')).toContain('not_allowlisted');
    });

    it('verify passes, names a rule deleted by hand, and apply repairs it', () => {
      expect(pod.asRoot('bash', [initScript, 'verify']).status).toBe(0);
      const rule = ['-p', 'tcp', '-m', 'tcp', '--dport', '80', '-j', 'REDIRECT', '--to-ports', '15080'];
      runOk('ip', ['netns', 'exec', podName, 'iptables', '-t', 'nat', '-D', 'SLUICE_OUTPUT', ...rule]);
      const tampered = pod.asRoot('bash', [initScript, 'verify']);
      expect(tampered.status).toBe(1);
      expect(tampered.stderr).toContain(`IPv4 nat: missing: -A SLUICE_OUTPUT ${rule.join(' ')}`);
      expect(pod.asRoot('bash', [initScript, 'apply']).status).toBe(0);
      expect(pod.asRoot('bash', [initScript, 'verify']).status).toBe(0);
    });
  });

  describe('with sluice stopped', () => {
    it('the agent has no egress at all (fail closed)', async () => {
      const pid = Number(/sluice pid (\d+)/.exec(sandbox.output())?.[1]);
      expect(pid).toBeGreaterThan(0);
      process.kill(pid, 'SIGKILL');
      const deadline = Date.now() + 10_000;
      while (!sandbox.output().includes('sluice stopped') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(sandbox.output()).toContain('sluice stopped');
      expect(processesUsingConfig()).toEqual([sandbox.child.pid]); // the sandbox is left, no sluice

      const before = fi.originRecords().length;
      const https = expectNoLeak(() => pod.asAgent('curl', ['-sS', '--max-time', '5', `https://${NAMES.allowed}/hello`]));
      expect(https.status).not.toBe(0);
      const http = expectNoLeak(() => pod.asAgent('curl', ['-sS', '--max-time', '5', `http://${NET.origin4}/hello`]));
      expect(http.status).not.toBe(0);
      const name = `${unique('down')}.${NAMES.evil}`;
      const dns = expectNoLeak(() => pod.asAgent('python3', [probes, 'dns', NET.dns, name]), [name]);
      expect(dns.status).not.toBe(0);
      expectNoLeak(() => pod.asAgent('python3', [probes, 'udp', NET.canary4, '443']));
      expect(fi.originRecords().slice(before)).toEqual([]);
    });
  });

  describe('sluice sandbox itself', () => {
    it('Ctrl-C ends CMD, returns its status and removes the namespace, link, rules and sysctls', async () => {
      sandbox.interrupt();
      expect(await sandbox.exited).toBe(130); // sleep killed by SIGINT
      expect(processesUsingConfig()).toEqual([]); // no sluice left running anywhere
      expect(runOk('ip', ['netns', 'list'])).not.toContain(podName);
      expect(existsSync(`/etc/netns/${podName}`)).toBe(false);
      for (const bin of ['iptables', 'ip6tables']) {
        expect(fi.host.execOk(bin, ['-S']) + fi.host.execOk(bin, ['-t', 'nat', '-S'])).not.toContain('sluice sandbox');
      }
      expect(fi.host.execOk('sysctl', ['-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding']).split('\n').filter(Boolean)).toEqual(['0', '0']);
      expect(fi.host.execOk('ip', ['-o', 'link']).split('\n').filter((l) => l.includes('slx'))).toEqual([]);
    });

    it('runs a command to completion and returns its exit status', async () => {
      const config = join(dir, 'sluice.toml');
      const name = `sluice-t-${process.pid}-pod2`;
      const once = await startSandbox(['-c', config, '--name', name, '--uplink-netns', fi.host.name, '--user', `${AGENT_UID}:${AGENT_UID}`],
        ['sh', '-c', `id -u; curl -sS https://${NAMES.allowed}/hello; env; exit 7`], SECRET_ENV);
      expect(await once.exited).toBe(7);
      expect(once.output()).toContain(`${AGENT_UID}\n`);
      expect(once.output()).toContain('"origin":"fake"');
      expect(once.output()).toContain(`CURL_CA_BUNDLE=${caDir}/ca-bundle.crt`);
      // sluice read the secret from this variable; CMD's environment does not carry it.
      expect(once.output()).not.toContain('SLUICE_E2E_SECRET');
      expect(once.output()).not.toContain(SECRET_ENV.SLUICE_E2E_SECRET);
      expect(runOk('ip', ['netns', 'list'])).not.toContain(name);
      expect(processesUsingConfig()).toEqual([]);
    });

    it('refuses to run CMD as sluice\'s own uid', async () => {
      const r = run(process.execPath, [fileURLToPath(new URL('../../bin/sluice.js', import.meta.url)), 'sandbox',
        '-c', join(dir, 'sluice.toml'), '--user', String(SLUICE_UID), '--', 'true']);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('sluice\'s uid');
    });
  });
});
