// An injected pod, run under the Docker engine by a runner that follows kubelet from the pod
// spec (DESIGN §7, issue 12): sluice-init installs the rules, sluice starts as a native sidecar
// gated on its startupProbe, then the unmodified agent. Real clients inside the app container
// against the fake cluster (fake-cluster.ts): the allowlisted origin with the real key swapped
// in, everything else refused, nothing secret inside the app container, Jobs complete, and a
// sluice-init that fails keeps the app from ever starting.
//
// The pod comes from the real `sluice inject` when the CLI has it, else from the hand-written
// test/fixtures/k8s/pod-*-injected.yaml. Needs root, docker and debootstrap (or
// SLUICE_TEST_BASE_IMAGE); skipped with the reason otherwise, a failure instead under CI=true.
// SLUICE_TEST_K8S_SLUICE_IMAGE=IMAGE runs that sluice image instead of building one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { run } from '../helpers/process.ts';
import { commandExists, engineRunning, ensureEngine, type Engine } from '../compose/engine.ts';
import { SLUICE_IMAGE, baseImage, containerLogs, makeSecrets, mustRun, originRecords, prepareFiles, sluiceImage, toolsImage } from '../compose/fixture.ts';
import { DNS_IP, DNS_IP6, LEAK_IP, LEAK_IP6, ORIGIN_IP, startFakeCluster, type FakeCluster } from './fake-cluster.ts';
import { FIXTURES, inject, podOf, type Injected } from './manifests.ts';
import { k8sSecrets, makePodObjects } from './pod-objects.ts';
import { POD_LABEL, leftovers, removeLeftovers, runPod, type PodObjects, type RunningPod } from './pod-runner.ts';

const CI = process.env.CI === 'true' || process.env.CI === '1';
const GIVEN_IMAGE = process.env.SLUICE_TEST_K8S_SLUICE_IMAGE;

function missingPrerequisite(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (it runs containers with NET_ADMIN and reads their filesystems with nsenter)';
  if (!commandExists('docker')) return 'no docker client (apt-get install docker.io)';
  if (!engineRunning() && !commandExists('dockerd')) return 'no Docker engine running and no dockerd to start (apt-get install docker.io)';
  if (!commandExists('nsenter')) return 'no nsenter (apt-get install util-linux)';
  if (process.env.SLUICE_TEST_BASE_IMAGE === undefined && !commandExists('debootstrap')) {
    return 'no debootstrap to build the stand-in base image (apt-get install debootstrap), and SLUICE_TEST_BASE_IMAGE is not set';
  }
  return undefined;
}

const missing = missingPrerequisite();
if (missing !== undefined) process.stderr.write(`\nk8s pod-run suite SKIPPED: ${missing}${CI ? ' (CI=true: failing instead)' : ''}\n\n`);

const log = (line: string): void => void process.stderr.write(`k8s: ${line}\n`);
const secrets = k8sSecrets(randomBytes(8).toString('hex'));
const REAL = [secrets.anthropicReal, secrets.openaiReal];
const timings: Record<string, number> = {};

let dir = '';
let engine: Engine | undefined;
let cluster: FakeCluster | undefined;
let objects: PodObjects | undefined;
let images: Record<string, string> = {};
let sluiceImg = '';
let agentManifest: Injected | undefined;
let jobManifest: Injected | undefined;
let containerModeManifest: Injected | undefined;
let agent: RunningPod | undefined;
let setupError: Error | undefined;
const extraPods: RunningPod[] = [];

function ready(ctx: TestContext): RunningPod {
  if (missing !== undefined) {
    if (CI) throw new Error(`k8s pod-run suite cannot run on this CI machine: ${missing}`);
    ctx.skip(`k8s pod-run suite skipped: ${missing}`);
  }
  if (setupError !== undefined) throw setupError;
  if (agent === undefined) throw new Error('the agent pod is not running');
  return agent;
}

async function startPod(manifest: unknown): Promise<RunningPod> {
  const pod = await runPod(manifest, {
    objects: objects!, network: cluster!.network, clusterDns: DNS_IP, pauseImage: sluiceImg, images,
    log: (line) => log(line),
  });
  extraPods.push(pod);
  return pod;
}

/** Waits (bounded) for a line the app container prints, e.g. "first-call=200". */
async function appLine(pod: RunningPod, container: string, key: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = new RegExp(`^${key}=(\\S*)$`, 'm').exec(await pod.logs(container));
    if (match !== null) return match[1] as string;
    if (Date.now() > deadline) throw new Error(`${container} printed no ${key}= within ${timeoutMs / 1000} s:\n${await pod.logs(container)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function timedStart(name: string, manifest: unknown): Promise<RunningPod> {
  const start = Date.now();
  const pod = await startPod(manifest);
  timings[name] = (Date.now() - start) / 1000;
  log(`${name}: ${timings[name]} s\n${pod.timeline()}`);
  return pod;
}

// Generous: on a loaded 2-CPU machine sluice alone took 40 s to become ready (each probe attempt
// is a docker exec of a fresh Node process).
const TEST_TIMEOUT_MS = 180_000;

const MESSAGE = JSON.stringify({ model: 'claude-k8s-test', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });

describe('an injected pod, run by a runner that follows kubelet', () => {
  beforeAll(async () => {
    if (missing !== undefined) return;
    const start = Date.now();
    try {
      dir = mkdtempSync(join(tmpdir(), 'sluice-k8s-'));
      engine = await ensureEngine(dir);
      const imagesStart = Date.now();
      const base = await baseImage(log);
      const [tools] = await Promise.all([toolsImage(base), GIVEN_IMAGE === undefined ? sluiceImage(base) : Promise.resolve()]);
      timings.images = (Date.now() - imagesStart) / 1000;
      sluiceImg = GIVEN_IMAGE ?? SLUICE_IMAGE;
      images = { 'sluice:0.1.0': sluiceImg, [SLUICE_IMAGE]: sluiceImg, 'agent-tools:test': tools };
      await removeLeftovers();
      await prepareFiles(dir, makeSecrets()); // the compose fixture's PKI (origin certificate) and records folder
      cluster = await startFakeCluster(tools, dir);
      objects = await makePodObjects(dir, join(dir, 'pki'), secrets);
      [agentManifest, jobManifest, containerModeManifest] = await Promise.all([
        inject(join(FIXTURES, 'pod-agent.yaml'), sluiceImg), inject(join(FIXTURES, 'pod-job.yaml'), sluiceImg),
        inject(join(FIXTURES, 'pod-agent.yaml'), sluiceImg, 'container'),
      ]);
      if (agentManifest === undefined || jobManifest === undefined) throw new Error('no injected manifests');
      log(`injected pods from ${agentManifest.source}`);
      agent = await timedStart('pod start (cold)', podOf(agentManifest.documents[0]!));
      if (agent.phase !== 'Running') throw new Error(`agent pod ${agent.phase}: ${JSON.stringify(agent.failure)}`);
    } catch (err) {
      setupError = err as Error;
    } finally {
      timings.setup = (Date.now() - start) / 1000;
      log(`setup ${JSON.stringify(timings)}`);
    }
  }, 1_200_000);

  afterAll(async () => {
    if (missing !== undefined) return;
    const errors: string[] = [];
    for (const pod of extraPods) await pod.delete({ graceSeconds: 2 }).catch((err: Error) => errors.push(err.message));
    await cluster?.stop().catch((err: Error) => errors.push(err.message));
    const left = await leftovers().catch(() => ['(cannot list)']);
    await engine?.stop();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
    log(`timings (s): ${JSON.stringify(timings)}`);
    if (left.length > 0) errors.push(`containers left behind: ${left.join(' ')}`);
    if (errors.length > 0) throw new Error(errors.join('\n'));
  }, 300_000);

  it('sluice-init installs the rules and exits, then sluice is ready before the app container starts', async (ctx) => {
    const pod = ready(ctx);
    const at = (container: string, event: string): number => {
      const e = pod.events.find((x) => x.container === container && x.event === event);
      expect(e, `${container} ${event} in ${JSON.stringify(pod.events)}`).toBeDefined();
      return e!.at;
    };
    expect(pod.events.find((e) => e.container === 'sluice-init' && e.event === 'exited')?.detail).toBe('code 0');
    expect(at('sluice-init', 'exited')).toBeLessThanOrEqual(at('sluice', 'started'));
    // The engine's own clock for the app's start, against the moment the startup probe passed.
    const appStarted = Date.parse((await mustRun('docker', ['inspect', '-f', '{{.State.StartedAt}}', pod.containerId('agent')])).trim());
    expect(at('sluice', 'startup-probe')).toBeLessThanOrEqual(appStarted);
    // The app's very first act was a call through sluice: it only succeeds if capture and sluice were ready.
    expect(await appLine(pod, 'agent', 'first-call')).toBe('200');
    expect(await pod.logs('sluice-init')).toMatch(/sluice-init: applied \(v4 v6/);

    // The live rules match sluice's templates (checked from a helper in the pod's namespace).
    const verify = await run('docker', ['run', '--rm', '--network', `container:${pod.pauseId}`, '--cap-add', 'NET_ADMIN', '--no-healthcheck',
      '--label', 'dev.sluice.test.k8s-pod=verify', '--entrypoint', '/app/iptables/sluice-init.sh', sluiceImg, 'verify'], { timeoutMs: 60_000 });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    // sluice: uid 1337, no capability in any set, no_new_privs, read-only root.
    const status = (await pod.exec('sluice', ['cat', '/proc/1/status'])).stdout;
    expect(status).toMatch(/^Uid:\s+1337\s+1337\s+1337\s+1337$/m);
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(status).toMatch(new RegExp(`^${set}:\\s+0+$`, 'm'));
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect((await pod.exec('sluice', ['touch', '/app/x'])).code).not.toBe(0);
    // Probes and hooks run as the container's user (the admin port answers uid 1337 only, so
    // the startup probe's success already said so).
    expect((await pod.exec('sluice', ['id', '-u'])).stdout.trim()).toBe('1337');
    // The app: uid 1000, no capabilities.
    const appStatus = (await pod.exec('agent', ['cat', '/proc/1/status'])).stdout;
    expect(appStatus).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    expect(appStatus).toMatch(/^CapBnd:\s+0+$/m);
  }, TEST_TIMEOUT_MS);

  it('curl, python3 and node in the app container reach the allowlisted host with surrogates; the origin sees the real keys', async (ctx) => {
    const pod = ready(ctx);
    const before = originRecords(dir).length;
    const curl = await pod.exec('agent', ['sh', '-c', 'curl -sS --fail-with-body -m 20 https://api.anthropic.com/v1/messages '
      + '-H "x-api-key: $ANTHROPIC_API_KEY" -H "content-type: application/json" --data-binary @-'], { input: MESSAGE });
    expect(curl.code, curl.stderr).toBe(0);
    expect(curl.stdout).toContain('hello from the fake origin');
    const python = await pod.exec('agent', ['python3', '-c', [
      'import json, os, urllib.request',
      'req = urllib.request.Request("https://api.openai.com/v1/chat/completions", method="POST",',
      '  data=json.dumps({"model": "gpt-k8s-test", "messages": [{"role": "user", "content": "hi"}]}).encode(),',
      '  headers={"authorization": "Bearer " + os.environ["OPENAI_API_KEY"], "content-type": "application/json"})',
      'print(urllib.request.urlopen(req, timeout=20).read().decode())',
    ].join('\n')]);
    expect(python.code, python.stderr).toBe(0);
    expect(python.stdout).toContain('hello from the fake origin');
    const node = await pod.exec('agent', ['node', '--input-type=module', '-e', [
      'const r = await fetch("https://api.anthropic.com/v1/messages", { method: "POST", body: process.argv[1],',
      '  headers: { "x-api-key": process.env.ANTHROPIC_API_KEY, "content-type": "application/json" } });',
      'console.log(r.status, await r.text());',
    ].join('\n'), MESSAGE]);
    expect(node.code, node.stderr).toBe(0);
    expect(node.stdout).toMatch(/^200 .*hello from the fake origin/);

    const seen = originRecords(dir).slice(before).filter((r) => r.kind === 'https');
    expect(seen.map((r) => r.sni).sort()).toEqual(['api.anthropic.com', 'api.anthropic.com', 'api.openai.com']);
    for (const r of seen) {
      if (r.sni === 'api.anthropic.com') expect(r.x_api_key).toBe(secrets.anthropicReal);
      else expect(r.authorization).toBe(`Bearer ${secrets.openaiReal}`);
    }
  }, TEST_TIMEOUT_MS);

  it('a host that is not allowlisted is refused with 403, by name or by address', async (ctx) => {
    const pod = ready(ctx);
    const before = originRecords(dir).length;
    const code = async (args: string[]): Promise<string> =>
      (await pod.exec('agent', ['curl', '-sS', '-m', '10', '-o', '/dev/null', '-w', '%{http_code}', ...args])).stdout;
    expect(await code(['https://example.com/'])).toBe('403');
    expect(await code(['--resolve', `example.com:443:${ORIGIN_IP}`, 'https://example.com/'])).toBe('403');
    expect(await code(['http://example.com/'])).toBe('403');
    expect(originRecords(dir).slice(before)).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it('UDP, DNS to an outside resolver, raw sockets and IPv6 are refused', async (ctx) => {
    const pod = ready(ctx);
    const probe = await pod.exec('agent', ['python3', '-c', [
      'import socket, struct',
      'def query(name):',
      '  return struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\0" + struct.pack(">HH", 1, 1)',
      'for fam, addr in [(socket.AF_INET, "' + LEAK_IP + '"), (socket.AF_INET6, "' + LEAK_IP6 + '")]:',
      '  u = socket.socket(fam, socket.SOCK_DGRAM); u.settimeout(3)',
      '  try: u.sendto(b"leak", (addr, 9999)); print("udp-reply", addr, u.recvfrom(100))',
      '  except OSError as e: print("udp-blocked", addr, e)',
      '  t = socket.socket(fam, socket.SOCK_STREAM); t.settimeout(3)',
      // Captured to sluice's deny listener, which closes without a byte; the listener would say "leak listener".
      '  try: t.connect((addr, 2222)); print("tcp-answer", addr, t.recv(100))',
      '  except OSError as e: print("tcp-blocked", addr, e)',
      // DNS straight to another resolver (the leak listener on :53, the cluster DNS over IPv6): sluice answers, nothing leaves.
      'for fam, addr, name in [(socket.AF_INET, "' + LEAK_IP + '", "leak-probe-a.example.com"), (socket.AF_INET6, "' + DNS_IP6 + '", "leak-probe-b.example.com")]:',
      '  u = socket.socket(fam, socket.SOCK_DGRAM); u.settimeout(5)',
      '  try:',
      '    u.sendto(query(name), (addr, 53)); r = u.recvfrom(512)[0]',
      '    print("dns-answer", addr, ".".join(str(b) for b in r[-4:]) if struct.unpack(">H", r[6:8])[0] else "none", "rcode", r[3] & 15)',
      '  except OSError as e: print("dns-blocked", addr, e)',
      'for proto in [socket.IPPROTO_ICMP, socket.IPPROTO_UDP]:',
      '  try: socket.socket(socket.AF_INET, socket.SOCK_RAW, proto); print("raw-opened", proto)',
      '  except OSError as e: print("raw-refused", proto, e)',
    ].join('\n')], { timeoutMs: 60_000 });
    expect(probe.code, probe.stderr).toBe(0);
    expect(probe.stdout).not.toMatch(/udp-reply|raw-opened|leak listener/);
    expect(probe.stdout.match(/udp-blocked/g)?.length).toBe(2);
    expect(probe.stdout.match(/^tcp-(?:blocked|answer \S+ b'')/gm)?.length).toBe(2);
    expect(probe.stdout.match(/^raw-refused/gm)?.length).toBe(2);
    // DNS sent to any resolver is answered by sluice: the not-allowlisted name gets the sinkhole.
    expect(probe.stdout.match(/^dns-answer \S+ (?:198\.18\.255\.254|none)/gm)?.length).toBe(2);
    expect(probe.stdout).not.toContain(ORIGIN_IP);
    // IPv6 TLS straight to an address: captured by the ip6tables twin, refused by sluice (no SNI).
    const v6 = await pod.exec('agent', ['curl', '-sS', '-m', '10', '-k', `https://[${LEAK_IP6}]/`]);
    expect(v6.code).not.toBe(0);
    expect(await containerLogs(cluster!.leakId)).not.toContain('seen');
    expect(await containerLogs(cluster!.dnsId)).not.toContain('leak-probe');
  }, TEST_TIMEOUT_MS);

  it('the CA key and the real secrets are nowhere in the app container, and the logs are not visible', async (ctx) => {
    const pod = ready(ctx);
    const caKey = objects!.secrets['sluice-ca']!['ca.key']!;
    const keyLine = caKey.split('\n').find((l) => l.length > 40 && !l.startsWith('-----')) ?? caKey;
    for (const user of ['1000:1000', '0']) {
      const dump = await pod.exec('agent', ['sh', '-c', 'env; cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" "\\n"'], { user });
      expect(dump.stdout).toContain(secrets.anthropicSurrogate); // the search does see the environment
      for (const needle of [...REAL, keyLine]) expect(dump.stdout).not.toContain(needle);
      expect(dump.stdout).not.toContain('sluice.js run'); // no process of sluice's is visible
    }
    // Every file in the app container's mount namespace, volumes included, read by the host's root.
    const pid = (await mustRun('docker', ['inspect', '-f', '{{.State.Pid}}', pod.containerId('agent')])).trim();
    const grepAll = (needle: string): ReturnType<typeof run> => run('nsenter',
      ['--target', pid, '--mount', '--', 'grep', '-rlF', '--devices=skip', '--exclude-dir=proc', '--exclude-dir=sys', '--exclude-dir=dev', needle, '/'],
      { timeoutMs: 120_000 });
    for (const needle of [...REAL, keyLine]) {
      const grep = await grepAll(needle);
      expect(grep.stdout, `found in: ${grep.stdout}`).toBe('');
      expect(grep.code, grep.stderr).toBe(1); // searched everything, found nothing, no read errors
    }
    // The search does reach the volume (kubelet's layout: the files live in ..TIMESTAMP/, behind symlinks).
    expect((await grepAll('BEGIN CERTIFICATE')).stdout).toMatch(/^\/etc\/sluice\/\.\.[\d_.]+\/ca\.crt$/m);
    const trust = (await pod.exec('agent', ['ls', '/etc/sluice'])).stdout.split('\n').filter(Boolean).sort();
    expect(trust).toEqual(['ca-bundle.crt', 'ca.crt']);
    for (const path of ['/sluice/logs', '/sluice/ca', '/sluice/secrets']) {
      expect((await pod.exec('agent', ['ls', path], { user: '0' })).code, path).not.toBe(0);
    }
    // On sluice's side the logs are there, with the exchanges and without any key.
    const llm = (await pod.exec('sluice', ['cat', '/sluice/logs/llm.ndjson'])).stdout;
    expect(llm).toContain('claude-k8s-test');
    const access = (await pod.exec('sluice', ['cat', '/sluice/logs/access.ndjson'])).stdout;
    expect(access).toMatch(/"host":"example\.com".*"decision":"deny"/);
    for (const needle of REAL) expect(llm + access).not.toContain(needle);
  }, TEST_TIMEOUT_MS);

  it('a ConfigMap update (kubelet\'s atomic ..data swap) reaches the running sluice without a restart', async (ctx) => {
    const pod = ready(ctx);
    const code = async (): Promise<string> =>
      (await pod.exec('agent', ['curl', '-sS', '-m', '10', '-o', '/dev/null', '-w', '%{http_code}', 'https://example.com/'])).stdout;
    expect(await code()).toBe('403');
    const config = objects!.configMaps['sluice-config']!;
    const widened = `${config['sluice.toml']}\n[[allow]]\nhost = "example.com"\nprivate = true\n`;
    expect(pod.updateObject('configMap', 'sluice-config', { ...config, 'sluice.toml': widened })).toBe(1);
    try {
      const deadline = Date.now() + 30_000;
      let last = '';
      while ((last = await code()) !== '200' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
      expect(last, await pod.logs('sluice')).toBe('200');
      expect((await mustRun('docker', ['inspect', '-f', '{{.RestartCount}}', pod.containerId('sluice')])).trim()).toBe('0');
    } finally {
      pod.updateObject('configMap', 'sluice-config', config); // the tests after this one expect the original policy
    }
    const deadline = Date.now() + 30_000;
    let last = '';
    while ((last = await code()) !== '403' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    expect(last).toBe('403');
  }, TEST_TIMEOUT_MS);

  it('a Job-style pod completes: the native sidecar does not hold it', async (ctx) => {
    ready(ctx);
    const before = originRecords(dir).length;
    const start = Date.now();
    const job = await startPod(podOf(jobManifest!.documents[0]!));
    expect(job.phase, JSON.stringify(job.failure)).toBe('Running');
    const done = await job.waitForCompletion(90_000);
    timings['job pod start to completion'] = (Date.now() - start) / 1000;
    log(`job pod: ${timings['job pod start to completion']} s\n${job.timeline()}`);
    expect(done.phase).toBe('Succeeded');
    expect(done.containers).toEqual([{ name: 'job', exitCode: 0, restartCount: 0 }]);
    expect(await appLine(job, 'job', 'job-call')).toBe('200');
    // kubelet stops the sidecar once the app has exited; sluice ends a SIGTERM with 0.
    expect(job.events.find((e) => e.container === 'sluice' && e.event === 'stopped')?.detail).toBe('code 0');
    const seen = originRecords(dir).slice(before).filter((r) => r.kind === 'https');
    expect(seen.map((r) => r.authorization)).toEqual([`Bearer ${secrets.openaiReal}`]);
  }, TEST_TIMEOUT_MS);

  it('a sluice-init that cannot install the rules (no NET_ADMIN) fails the pod, and the app never starts', async (ctx) => {
    ready(ctx);
    const manifest = structuredClone(podOf(agentManifest!.documents[0]!)) as { spec: { initContainers: { name: string; securityContext: { capabilities: { add?: string[] } } }[] } };
    const init = manifest.spec.initContainers.find((c) => c.name === 'sluice-init');
    expect(init).toBeDefined();
    init!.securityContext.capabilities.add = (init!.securityContext.capabilities.add ?? []).filter((c) => c !== 'NET_ADMIN');
    const pod = await startPod(manifest);
    expect(pod.phase).toBe('Failed');
    expect(pod.failure).toMatchObject({ container: 'sluice-init', reason: 'Init:Error' });
    expect(pod.failure!.exitCode).not.toBe(0);
    expect(pod.created('sluice')).toBe(false);
    expect(pod.created('agent')).toBe(false);
    // The engine agrees: only the sandbox and sluice-init were ever created for this pod.
    const made = await mustRun('docker', ['ps', '-a', '--filter', `label=${POD_LABEL}=${pod.id}`, '--format', '{{.Names}}']);
    expect(made.split('\n').filter(Boolean).sort()).toEqual([`${pod.id}-pause`, `${pod.id}-sluice-init`]);
    expect(pod.failure!.logs).toMatch(/sluice-init/);
    await pod.delete({ graceSeconds: 1 });
    expect(await leftovers(pod.id)).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it('--sidecar=container (clusters before 1.29): sluice first in containers, its postStart hook holds the app until sluice is ready', async (ctx) => {
    ready(ctx);
    if (containerModeManifest === undefined) {
      ctx.skip('no `sluice inject` CLI: the hand-written fixtures cover the native sidecar only');
      return;
    }
    const manifest = podOf(containerModeManifest.documents[0]!) as { spec: { containers: { name: string; lifecycle?: unknown }[] } };
    expect(manifest.spec.containers[0]?.name).toBe('sluice');
    expect(manifest.spec.containers[0]?.lifecycle).toHaveProperty('postStart');
    const pod = await startPod(manifest);
    expect(pod.phase, JSON.stringify(pod.failure)).toBe('Running');
    const hook = pod.events.find((e) => e.container === 'sluice' && e.event === 'post-start');
    expect(hook?.detail).toBe('ok');
    const appStarted = Date.parse((await mustRun('docker', ['inspect', '-f', '{{.State.StartedAt}}', pod.containerId('agent')])).trim());
    expect(hook!.at).toBeLessThanOrEqual(appStarted);
    expect(await appLine(pod, 'agent', 'first-call')).toBe('200');
    await pod.delete({ graceSeconds: 2 });
    expect(await leftovers(pod.id)).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it('starts again warm, and deleting the pod leaves nothing behind', async (ctx) => {
    const cold = ready(ctx);
    await cold.delete({ graceSeconds: 2 });
    expect(await leftovers(cold.id)).toEqual([]);
    const warm = await timedStart('pod start (warm)', podOf(agentManifest!.documents[0]!));
    expect(warm.phase, JSON.stringify(warm.failure)).toBe('Running');
    expect(await appLine(warm, 'agent', 'first-call')).toBe('200');
    await warm.delete({ graceSeconds: 2 });
    expect(await leftovers(warm.id)).toEqual([]);
    log(`pod run timings (s): ${JSON.stringify(timings)}`);
  }, TEST_TIMEOUT_MS);
});
