// `docker compose up` beside an unmodified agent, under a real Docker engine (issues 6 and 13,
// DESIGN.md §5). The real compose.yaml plus compose.test.yaml, which only adds the fake
// internet (an HTTPS origin and its DNS server, the latter handed out as the engine's resolver),
// the test's policy, CA and secrets. SLUICE_DNS_UPSTREAM stays empty: sluice finds its resolver.
// The last tests take sluice down four ways while the agent keeps calling out, and judge what
// the agent saw and what reached the fake internet.
//
// Needs root, docker.io, docker-compose and debootstrap (or SLUICE_TEST_BASE_IMAGE). Without
// them the suite is skipped and says why; with CI=true that is a failure instead.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { run } from '../helpers/process.ts';
import { composeCommands, ensureEngine, missingPrerequisite, type Engine } from './engine.ts';
import {
  DNS_IP, ORIGIN_IP, PROJECT, REPO, SLUICE_IMAGE, baseImage, composeRunner, containerId, containerLogs, exec, inspect, makeSecrets,
  mustRun, originRecords, prepareFiles, sluiceImage, toolsImage, type Compose,
} from './fixture.ts';

const TEST_TIMEOUT_MS = 120_000;
const CI = process.env.CI === 'true' || process.env.CI === '1';
const missing = missingPrerequisite();
if (missing !== undefined) {
  process.stderr.write(`\ncompose suite SKIPPED: ${missing}${CI ? ' (CI=true: failing instead)' : ''}\n\n`);
}

const secrets = makeSecrets();
const REAL = [secrets.anthropicReal, secrets.openaiReal];
const log = (line: string): void => void process.stderr.write(`compose: ${line}\n`);

let dir = '';
let engine: Engine | undefined;
let compose: Compose | undefined;
let setupError: Error | undefined;
let holder = '';
let sluice = '';
let agent = '';
let dns = '';
let upStarted = '';
const timings: Record<string, number> = {};

async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const start = Date.now();
  try {
    return await fn();
  } finally {
    timings[name] = (Date.now() - start) / 1000;
  }
}

/** Every test needs the stack; a setup failure fails each test with its cause. */
function ready(ctx: TestContext): Compose {
  if (missing !== undefined) {
    if (CI) throw new Error(`compose suite cannot run on this CI machine: ${missing}`);
    ctx.skip(`compose suite skipped: ${missing}`);
  }
  if (setupError !== undefined) throw setupError;
  if (compose === undefined) throw new Error('compose stack is not up');
  return compose;
}

const inAgent = (command: string[], timeoutMs = 30_000): ReturnType<typeof exec> => exec(agent, command, { timeoutMs });

const MESSAGE = JSON.stringify({ model: 'claude-compose-test', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });

describe('docker compose: sluice beside an unmodified agent', () => {
  beforeAll(async () => {
    if (missing !== undefined) return;
    const start = Date.now();
    try {
      dir = mkdtempSync(join(tmpdir(), 'sluice-compose-'));
      engine = await timed('engine', () => ensureEngine(dir));
      log(engine.started ? 'started dockerd for this test' : 'using the running Docker engine');
      const base = await timed('base image', () => baseImage(log));
      const [tools] = await timed('images', () => Promise.all([toolsImage(base), sluiceImage(base)]));
      await prepareFiles(dir, secrets);
      const cmds = composeCommands();
      compose = composeRunner(cmds.v1 ?? cmds.v2 ?? [], dir, {
        SLUICE_BASE_IMAGE: base,
        SLUICE_IMAGE,
        AGENT_IMAGE: tools,
        TOOLS_IMAGE: tools,
        ANTHROPIC_API_KEY: secrets.anthropicReal,
        ANTHROPIC_SURROGATE: secrets.anthropicSurrogate,
        OPENAI_SURROGATE: secrets.openaiSurrogate,
        // As .env.example has it: sluice must find its resolver by itself.
        SLUICE_DNS_UPSTREAM: '',
      });
      await compose(['down', '-v', '--remove-orphans', '-t', '1'], 120_000); // leftovers of a killed run
      upStarted = new Date().toISOString();
      const up = await timed('up', () => compose!(['up', '-d', '--no-build'], 240_000));
      if (up.code !== 0) throw new Error(`compose up failed:\n${up.stderr.slice(-4000)}`);
      [holder, sluice, agent, dns] = await Promise.all([
        containerId(compose, 'sluice-net'), containerId(compose, 'sluice'), containerId(compose, 'agent'), containerId(compose, 'dns')]);
    } catch (err) {
      setupError = err as Error;
      if (compose !== undefined) {
        const logs = await compose(['logs', '--no-color', '--tail', '40'], 60_000);
        setupError.message += `\n--- compose logs ---\n${logs.stdout.slice(-6000)}`;
      }
    } finally {
      timings.setup = (Date.now() - start) / 1000;
      log(`setup ${JSON.stringify(timings)}`);
    }
  }, 1_200_000);

  afterAll(async () => {
    const start = Date.now();
    if (compose !== undefined) await compose(['down', '-v', '--remove-orphans', '-t', '2'], 180_000);
    await engine?.stop();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
    log(`teardown ${(Date.now() - start) / 1000} s`);
  }, 300_000);

  it('compose.yaml is valid for docker-compose 1.29 and docker compose v2', async (ctx) => {
    ready(ctx);
    const cmds = composeCommands();
    const checked: string[] = [];
    for (const cmd of [cmds.v1, cmds.v2]) {
      if (cmd === undefined) continue;
      const [bin, ...pre] = cmd;
      // The file alone, as a user runs it (no .env: every variable has a default)...
      const alone = await run(bin as string, [...pre, '-f', join(REPO, 'compose.yaml'), 'config', '-q'],
        { cwd: REPO, timeoutMs: 60_000, env: { ...process.env, COMPOSE_PROJECT_NAME: 'sluiceconfigcheck' } });
      expect(alone.code, `${cmd.join(' ')} config: ${alone.stderr}`).toBe(0);
      expect(alone.stderr, 'no warnings either').not.toMatch(/WARN|invalid|unsupported/i);
      // ...and with the test's override.
      const both = await compose!(['config', '-q'], 60_000);
      expect(both.code, both.stderr).toBe(0);
      checked.push(cmd.join(' '));
    }
    // docker-compose 1.29 validates against the Compose Specification's JSON schema it ships.
    expect(checked.length).toBeGreaterThan(0);
    if (cmds.v2 === undefined) await ctx.annotate('docker compose v2 is not installed here: checked with docker-compose 1.29 only');
  }, TEST_TIMEOUT_MS);

  it('brings sluice up healthy first, then the agent; the holder installed the rules for IPv4 and IPv6 and sluice verified them', async (ctx) => {
    ready(ctx);
    expect(await inspect(sluice, '{{.State.Health.Status}}')).toBe('healthy');
    expect(await inspect(agent, '{{.State.Running}}')).toBe('true');
    // The engine's own record: sluice turned healthy before the agent was started.
    const events = await mustRun('docker', ['events', '--since', upStarted, '--until', new Date().toISOString(),
      '--filter', 'type=container', '--format', '{{.Time}} {{.Actor.ID}} {{.Action}}'], { timeoutMs: 30_000 });
    const at = (id: string, action: string): number => {
      const line = events.split('\n').find((l) => l.includes(id) && l.split(' ').slice(2).join(' ').startsWith(action));
      expect(line, `${action} of ${id.slice(0, 12)} in\n${events}`).toBeDefined();
      return Number(line!.split(' ')[0]);
    };
    expect(at(sluice, 'health_status: healthy')).toBeLessThanOrEqual(at(agent, 'start'));

    const verify = await exec(sluice, ['/app/iptables/sluice-init.sh', 'verify']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(await containerLogs(holder)).toMatch(/sluice-init: applied \(v4 v6/);
    const logs = await containerLogs(sluice);
    expect(logs).toContain('capture rules verified in this namespace');
    expect(logs).not.toMatch(/sluice-init: applied/); // verified, not reinstalled
    // One namespace, the holder's: sluice and the agent joined it.
    const netns = async (id: string): Promise<string> => (await mustRun('readlink', [`/proc/${await inspect(id, '{{.State.Pid}}')}/ns/net`])).trim();
    const holderNs = await netns(holder);
    expect(await netns(sluice)).toBe(holderNs);
    expect(await netns(agent)).toBe(holderNs);
    // The holder sleeps as nobody with no capabilities.
    const holderStatus = (await exec(holder, ['sh', '-c', 'cat /proc/1/status'])).stdout;
    expect(holderStatus).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    expect(holderStatus).toMatch(/^CapEff:\s+0+$/m);
    // sluice itself: uid 1337, no capability in any set, no_new_privs.
    const status = (await exec(sluice, ['cat', '/proc/1/status'])).stdout;
    expect(status).toMatch(/^Uid:\s+1337\s+1337\s+1337\s+1337$/m);
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(status).toMatch(new RegExp(`^${set}:\\s+0+$`, 'm'));
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    // It runs the bundle (the image has no src/), with the image's flags and one malloc arena.
    const layout = await exec(sluice, ['sh', '-c', 'test ! -e /app/src && test -f /app/dist/sluice/main.js && echo bundle']);
    expect(layout.stdout.trim()).toBe('bundle');
    // (The container's environment, which the entrypoint passes on to sluice.)
    const environment = await exec(sluice, ['sh', '-c', 'echo "$MALLOC_ARENA_MAX $NODE_OPTIONS"']);
    expect(environment.stdout.trim()).toBe('1 --max-semi-space-size=16');
  }, TEST_TIMEOUT_MS);

  it('the entrypoint refuses to start without the rules, without a resolver, or without a config file', async (ctx) => {
    ready(ctx);
    // Named, and removed even when Docker itself refuses to start one (--rm does not cover that).
    const start = async (args: string[]): ReturnType<typeof run> => {
      const name = `${PROJECT}-entrypoint-check`;
      try {
        return await run('docker', ['run', '--rm', '--name', name, ...args, SLUICE_IMAGE], { timeoutMs: 60_000 });
      } finally {
        await run('docker', ['rm', '-f', name], { timeoutMs: 30_000 });
      }
    };
    // No NET_ADMIN: the rules cannot be installed, so sluice (and hence the agent) never starts.
    const noCap = await start(['--network', 'none']);
    expect(noCap.code).not.toBe(0);
    expect(noCap.stderr).toContain('refusing to start');
    // A compose network shows only Docker's embedded DNS, and nothing says where else to ask.
    const noDns = await start(['--cap-add', 'NET_ADMIN', '--network', `${PROJECT}_default`, '-e', 'SLUICE_DNS_UPSTREAM=']);
    expect(noDns.code).not.toBe(0);
    expect(noDns.stderr).toContain('no DNS resolver for sluice');
    expect(noDns.stderr).toContain("127.0.0.11 (nameserver in /etc/resolv.conf): skipped, Docker's embedded DNS");
    expect(noDns.stderr).toMatch(/^SLUICE_DNS_UPSTREAM=\S+$/m); // the line to add to .env
    // A bind mount whose source is missing becomes a directory (over the image's own
    // /sluice/sluice.toml Docker refuses the mount itself; elsewhere the entrypoint says so).
    mkdirSync(join(dir, 'not-a-file'), { recursive: true });
    const noFile = await start(['--cap-add', 'NET_ADMIN', '--network', 'none', '-e', 'SLUICE_CONFIG=/etc/policy/sluice.toml',
      '-v', `${join(dir, 'not-a-file')}:/etc/policy/sluice.toml:ro`]);
    expect(noFile.code).not.toBe(0);
    expect(noFile.stderr).toContain('is a directory');
  }, TEST_TIMEOUT_MS);

  it('curl, python3 and node in the agent reach the allowlisted origin holding only surrogates; the origin sees the real keys', async (ctx) => {
    ready(ctx);
    const before = originRecords(dir).length;
    const env = (await inAgent(['env'])).stdout;
    expect(env).toContain(`ANTHROPIC_API_KEY=${secrets.anthropicSurrogate}`);

    const curl = await inAgent(['sh', '-c', 'curl -sS --fail-with-body -m 20 https://api.anthropic.com/v1/messages '
      + '-H "x-api-key: $ANTHROPIC_API_KEY" -H "anthropic-version: 2023-06-01" -H "content-type: application/json" --data-binary @-'
      + ` <<'EOF'\n${MESSAGE}\nEOF`]);
    expect(curl.code, curl.stderr).toBe(0);
    expect(curl.stdout).toContain('hello from the fake origin');

    const python = await inAgent(['python3', '-c', [
      'import json, os, urllib.request',
      'req = urllib.request.Request("https://api.openai.com/v1/chat/completions", method="POST",',
      '  data=json.dumps({"model": "gpt-compose-test", "messages": [{"role": "user", "content": "hi"}]}).encode(),',
      '  headers={"authorization": "Bearer " + os.environ["OPENAI_API_KEY"], "content-type": "application/json"})',
      'print(urllib.request.urlopen(req, timeout=20).read().decode())',
    ].join('\n')]);
    expect(python.code, python.stderr).toBe(0);
    expect(python.stdout).toContain('hello from the fake origin');

    const node = await inAgent(['node', '--input-type=module', '-e', [
      'const r = await fetch("https://api.anthropic.com/v1/messages", { method: "POST", body: process.argv[1],',
      '  headers: { "x-api-key": process.env.ANTHROPIC_API_KEY, "anthropic-version": "2023-06-01", "content-type": "application/json" } });',
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

  it('with SLUICE_DNS_UPSTREAM empty, sluice finds the engine\'s resolver by probing, and resolves through it', async (ctx) => {
    ready(ctx);
    const env = JSON.parse(await inspect(sluice, '{{json .Config.Env}}')) as string[];
    expect(env).toContain('SLUICE_DNS_UPSTREAM='); // nobody told it
    const logs = await containerLogs(sluice);
    expect(logs).toContain("127.0.0.11 (nameserver in /sluice/resolvers/namespace.conf): skipped, Docker's embedded DNS");
    expect(logs).toMatch(/198\.19\.100\.99 \(the engine's resolver \(\/sluice\/resolvers\/engine\.conf\)\): no answer within/);
    expect(logs).toMatch(/198\.19\.100\.53 \(the engine's resolver \(\/sluice\/resolvers\/engine\.conf\)\): answered/);
    expect(logs).toContain('DNS: sluice resolves through 198.19.100.53');
    // api.anthropic.com is no network alias: only the dns container knows it, and sluice asked it.
    const queries = (await containerLogs(dns)).split('\n').filter((l) => /query\[A+\] api\.anthropic\.com/.test(l));
    expect(queries.length).toBeGreaterThan(0);
  }, TEST_TIMEOUT_MS);

  it('the agent cannot reach a host that is not allowlisted, by name, by address or on another port', async (ctx) => {
    ready(ctx);
    const before = originRecords(dir).length;
    const byName = await inAgent(['curl', '-sS', '-m', '10', '-o', '/dev/null', '-w', '%{http_code}', 'https://example.com/']);
    expect(byName.stdout).toBe('403');
    const byAddress = await inAgent(['curl', '-sS', '-m', '10', '-o', '/dev/null', '-w', '%{http_code}',
      '--resolve', `example.com:443:${ORIGIN_IP}`, 'https://example.com/']);
    expect(byAddress.stdout).toBe('403');
    const noSni = await inAgent(['curl', '-sS', '-m', '10', '-k', `https://${ORIGIN_IP}/`]);
    expect(noSni.code).not.toBe(0);
    const otherPort = await inAgent(['curl', '-sS', '-m', '10', `telnet://${ORIGIN_IP}:2222`], 20_000);
    expect(otherPort.stdout).not.toContain('fake origin tcp');
    const seen = originRecords(dir).slice(before);
    expect(seen, JSON.stringify(seen)).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it('nothing leaves over UDP, IPv6 or DNS to another resolver', async (ctx) => {
    ready(ctx);
    const before = originRecords(dir).length;
    const probe = await inAgent(['python3', '-c', [
      'import socket',
      'u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3)',
      'try:',
      `  u.sendto(b"leak", ("${ORIGIN_IP}", 9999)); print("udp-reply", u.recvfrom(100))`,
      'except OSError as e: print("udp-blocked", e)',
      'for addr in ["::1", "fd00::1", "64:ff9b::c613:640a"]:',
      '  try:',
      '    s = socket.socket(socket.AF_INET6); s.settimeout(3); s.connect((addr, 443)); print("v6-connected", addr)',
      '  except OSError as e: print("v6-blocked", addr, e)',
    ].join('\n')]);
    expect(probe.stdout).toContain('udp-blocked');
    expect(probe.stdout).not.toMatch(/udp-reply|v6-connected/);
    // A query sent straight to the fake internet's resolver is answered by sluice (captured):
    // the not-allowlisted name gets the sinkhole, never the origin's address, and never reaches dnsmasq.
    const dig = await inAgent(['python3', '-c', [
      'import socket, struct',
      'q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"".join(bytes([len(p)]) + p.encode() for p in "leak-probe.example.com".split(".")) + b"\\0" + struct.pack(">HH", 1, 1)',
      'u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(5)',
      `u.sendto(q, ("${DNS_IP}", 53)); r = u.recvfrom(512)[0]`,
      'print("answer", ".".join(str(b) for b in r[-4:]) if struct.unpack(">H", r[6:8])[0] else "none", "rcode", r[3] & 15)',
    ].join('\n')]);
    expect(dig.code, dig.stderr).toBe(0);
    expect(dig.stdout).not.toContain(ORIGIN_IP);
    expect(dig.stdout).toMatch(/answer (198\.18\.255\.254|none)/);
    expect(await containerLogs(dns)).not.toContain('leak-probe');
    expect(originRecords(dir).slice(before)).toEqual([]);
  }, TEST_TIMEOUT_MS);

  it('the real secrets are nowhere in the agent\'s container, and the logs volume is not there', async (ctx) => {
    ready(ctx);
    // As the agent's user and as root in its container: environment, every process's environ
    // and command line, and every file (the trust volume included).
    for (const user of ['1000:1000', '0']) {
      const dump = await exec(agent, ['sh', '-c', 'env; cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" "\\n"'], { user });
      expect(dump.stdout).toContain(secrets.anthropicSurrogate); // the search does see the environment
      for (const real of REAL) expect(dump.stdout).not.toContain(real);
    }
    // Every file in the agent's filesystem, mounted volumes included, read by the host's root
    // with every capability inside the agent's mount namespace (so nothing is skipped for lack
    // of permission, which the agent's own cap-less root would be).
    const pid = await inspect(agent, '{{.State.Pid}}');
    const grepAll = (needle: string): ReturnType<typeof run> => run('nsenter',
      ['--target', pid, '--mount', '--', 'grep', '-rlF', '--devices=skip', '--exclude-dir=proc', '--exclude-dir=sys', '--exclude-dir=dev', needle, '/'],
      { timeoutMs: 120_000 });
    for (const real of REAL) {
      const grep = await grepAll(real);
      expect(grep.stdout, `found in: ${grep.stdout}`).toBe('');
      expect(grep.code, grep.stderr).toBe(1); // 1: searched everything, found nothing, no read errors
    }
    const positive = await grepAll('BEGIN CERTIFICATE');
    expect(positive.stdout).toContain('/etc/sluice/ca.crt'); // the search does reach the mounted volume
    const trust = await exec(agent, ['ls', '-A', '/etc/sluice']);
    expect(trust.stdout.split('\n').filter(Boolean).sort()).toEqual(['ca-bundle.crt', 'ca.crt']);

    const mounts = JSON.parse(await inspect(agent, '{{json .Mounts}}')) as { Name?: string; Destination: string }[];
    expect(mounts.map((m) => m.Name ?? m.Destination).join(' ')).not.toMatch(/logs|sluice-ca\b/);
    const logsDir = await exec(agent, ['ls', '/sluice/logs'], { user: '0' });
    expect(logsDir.code).not.toBe(0);
  }, TEST_TIMEOUT_MS);

  it('llm.ndjson on the sluice side has the exchanges, without any key', async (ctx) => {
    ready(ctx);
    const text = (await exec(sluice, ['cat', '/sluice/logs/llm.ndjson'])).stdout;
    for (const real of REAL) expect(text).not.toContain(real);
    const lines = text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    const anthropic = lines.find((l) => l.provider === 'anthropic' && l.model === 'claude-compose-test');
    expect(anthropic).toMatchObject({ agent: 'compose-test', status: 200, outcome: 'complete', usage: { input_tokens: 11, output_tokens: 7 } });
    const openai = lines.find((l) => l.provider === 'openai');
    expect(openai).toMatchObject({ status: 200, usage: { input_tokens: 9, output_tokens: 5 } });
    const access = (await exec(sluice, ['cat', '/sluice/logs/access.ndjson'])).stdout;
    for (const real of REAL) expect(access).not.toContain(real);
    expect(access).toMatch(/"host":"example\.com".*"decision":"deny"/);
  }, TEST_TIMEOUT_MS);

  // Restart survival (issue 13): the agent keeps the holder's namespace whatever happens to sluice.
  for (const scenario of ['restart', 'kill -9', 'docker kill', 'upgrade'] as const) {
    it(`${scenario} of sluice: no egress while it is down, no leak during the switch, egress back within 5 s of healthy without restarting the agent`, async (ctx) => {
      ready(ctx);
      const result = await survive(scenario);
      log(`${scenario}: sluice down ${result.outageMs} ms; agent's first success ${result.recoveryMs} ms after healthy (${result.afterExecMs} ms after sluice's exec)`);
      await ctx.annotate(`${scenario}: recovery ${result.recoveryMs} ms after healthy, outage ${result.outageMs} ms`);
    }, 420_000);
  }
});

/** The agent's traffic during a switch, as it saw it (epoch ms). */
interface Attempt { t0: number; t1: number; ok: boolean; detail: string }

// Runs in the agent for the whole switch: allowed requests back to back (thread 1), and every
// way around sluice (thread 2: UDP, another TCP port, DNS straight to the fake internet's
// resolver, a name that is not allowlisted). Stops at /tmp/stop-watch or after MAX seconds.
const WATCH = `
import json, os, socket, struct, sys, threading, time, urllib.request
MAX = float(sys.argv[1]); stop_at = time.time() + MAX; out = []
def stopped(): return time.time() > stop_at or os.path.exists("/tmp/stop-watch")
def allowed():
    body = json.dumps({"model": "claude-compose-test", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}).encode()
    while not stopped():
        t0 = time.time()
        try:
            req = urllib.request.Request("https://api.anthropic.com/v1/messages", data=body, method="POST",
                headers={"x-api-key": os.environ["ANTHROPIC_API_KEY"], "content-type": "application/json"})
            text = urllib.request.urlopen(req, timeout=3).read().decode()
            out.append({"t0": t0 * 1000, "t1": time.time() * 1000, "ok": "hello from the fake origin" in text, "detail": text[:80]})
            open("/tmp/watch-ok", "w").close()
        except Exception as e:
            out.append({"t0": t0 * 1000, "t1": time.time() * 1000, "ok": False, "detail": repr(e)[:120]})
            time.sleep(0.05)
        time.sleep(0.05)
def around():
    n = 0
    while not stopped():
        n += 1
        try:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"leak-switch", ("${ORIGIN_IP}", 9999)); u.close()
        except OSError: pass
        try:
            s = socket.create_connection(("${ORIGIN_IP}", 2222), timeout=1); s.recv(100); s.close()
        except OSError: pass
        try:
            name = b"".join(bytes([len(p)]) + p.encode() for p in ("leak-switch-%d.example.net" % n).split("."))
            q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + name + bytes(1) + struct.pack(">HH", 1, 1)
            d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); d.settimeout(0.3); d.sendto(q, ("${DNS_IP}", 53)); d.recvfrom(512); d.close()
        except OSError: pass
        try:
            urllib.request.urlopen("https://example.com/", timeout=1).read()
        except Exception: pass
        time.sleep(0.1)
threads = [threading.Thread(target=allowed), threading.Thread(target=around)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(out))
`;

/** Docker's RFC 3339 nanosecond times as epoch ms. */
const dockerTime = (value: string): number => Date.parse(value.replace(/(\.\d{3})\d*/, '$1'));

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return Date.now();
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
}

/** Takes sluice down one way, brings it back (or lets Docker do it) and judges what the agent saw. */
async function survive(scenario: 'restart' | 'kill -9' | 'docker kill' | 'upgrade'): Promise<{ recoveryMs: number; outageMs: number; afterExecMs: number }> {
  const agentBefore = { started: await inspect(agent, '{{.State.StartedAt}}'), restarts: await inspect(agent, '{{.RestartCount}}') };
  const sluiceStartedBefore = await inspect(sluice, '{{.State.StartedAt}}');
  let killedAt: number | undefined;
  const originBefore = originRecords(dir).length;
  await exec(agent, ['rm', '-f', '/tmp/stop-watch', '/tmp/watch-ok']);
  const watching = inAgent(['python3', '-c', WATCH, '300'], 330_000);
  // Some traffic through the running sluice first.
  await waitUntil('the watch got through sluice', async () => (await exec(agent, ['test', '-f', '/tmp/watch-ok'])).code === 0, 60_000);

  if (scenario === 'restart') {
    const restart = await compose!(['restart', '-t', '2', 'sluice'], 90_000);
    expect(restart.code, restart.stderr).toBe(0);
  } else if (scenario === 'kill -9') {
    // What a crash looks like: the process dies; the restart policy brings the container back.
    await mustRun('kill', ['-9', await inspect(sluice, '{{.State.Pid}}')]);
  } else if (scenario === 'upgrade') {
    // A new image (here: the same one with another label), then the recipe the README gives:
    // recreate sluice alone; the holder keeps its namespace and the agent keeps running.
    const old = sluice;
    const since = new Date().toISOString();
    await mustRun('docker', ['build', '-q', '--label', `org.sluice.test.upgrade=${Date.now()}`, '-t', SLUICE_IMAGE, '-'],
      { input: `FROM ${SLUICE_IMAGE}\n`, timeoutMs: 120_000 });
    const up = await compose!(['up', '-d', '--no-build', '--no-deps', 'sluice'], 180_000);
    expect(up.code, up.stderr).toBe(0);
    sluice = await containerId(compose!, 'sluice');
    expect(sluice).not.toBe(old);
    const died = await mustRun('docker', ['events', '--since', since, '--until', new Date().toISOString(),
      '--filter', `container=${old}`, '--filter', 'event=die', '--format', '{{.TimeNano}}'], { timeoutMs: 30_000 });
    killedAt = Number(died.trim().split('\n')[0]) / 1e6;
  } else {
    await mustRun('docker', ['kill', sluice]);
    // Docker counts `docker kill` as a deliberate stop: no restart policy brings it back.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await inspect(sluice, '{{.State.Running}}')).toBe('false');
    killedAt = dockerTime(await inspect(sluice, '{{.State.FinishedAt}}'));
    const up = await compose!(['up', '-d', '--no-build'], 180_000);
    expect(up.code, up.stderr).toBe(0);
    // docker-compose 1.29 may recreate the stopped container rather than start it (it does
    // here): a new sluice container, in the same namespace all the same.
    sluice = await containerId(compose!, 'sluice');
  }
  await waitUntil('sluice restarted', async () => (await inspect(sluice, '{{.State.StartedAt}}')) !== sluiceStartedBefore, 60_000);
  const healthyAt = await waitUntil('sluice healthy again', async () => (await inspect(sluice, '{{.State.Health.Status}}')) === 'healthy', 90_000);
  await new Promise((r) => setTimeout(r, 6_000));
  await exec(agent, ['touch', '/tmp/stop-watch']);
  const watched = await watching;
  expect(watched.code, watched.stderr).toBe(0);
  const attempts = JSON.parse(watched.stdout) as Attempt[];

  // When sluice was not running at all: from the old process's end to the new entrypoint's
  // exec of sluice (the entrypoint's last line). No request may succeed in that window.
  const stoppedAt = killedAt ?? dockerTime(await inspect(sluice, '{{.State.FinishedAt}}'));
  const stamped = await run('docker', ['logs', '-t', '--since', sluiceStartedBefore, sluice], { timeoutMs: 30_000 });
  const execLine = (stamped.stdout + stamped.stderr).split('\n').filter((l) => l.includes('starting sluice as uid')).pop();
  expect(execLine, 'the restarted entrypoint ran to its end').toBeDefined();
  const execAt = dockerTime(execLine!.split(' ')[0] ?? '');
  expect(execAt).toBeGreaterThan(stoppedAt);
  // Tried while it was down: failed, or hung across the outage and got through only once the
  // new sluice ran (a DNS query lost with the old sluice is retried by the resolver after 5 s).
  const down = attempts.filter((a) => a.t1 >= stoppedAt && a.t0 <= execAt && (!a.ok || a.t1 >= execAt));
  const around = (): string => JSON.stringify(attempts.filter((a) => a.t1 >= stoppedAt - 3_000 && a.t0 <= execAt + 3_000)
    .map((a) => ({ ...a, t0: Math.round(a.t0 - stoppedAt), t1: Math.round(a.t1 - stoppedAt) })), null, 1);
  expect(down.length, `the agent tried while sluice was down (${execAt - stoppedAt} ms), ms from the stop: ${around()}`).toBeGreaterThan(0);
  expect(attempts.filter((a) => a.ok && a.t0 >= stoppedAt && a.t0 <= execAt), 'no egress while sluice is down').toEqual([]);

  // Back without restarting the agent: its first success after healthy, within 5 s.
  const back = attempts.find((a) => a.ok && a.t0 >= execAt);
  if (back === undefined) {
    const getent = await exec(agent, ['getent', 'ahostsv4', 'api.anthropic.com']);
    const tail = await run('docker', ['logs', '--tail', '30', sluice], { timeoutMs: 30_000 });
    expect.fail(`no success after the restart (exec at ${execAt}); last tries ${JSON.stringify(attempts.slice(-3))}; `
      + `getent now: ${getent.code} ${getent.stdout}; sluice: ${tail.stdout}${tail.stderr}`);
  }
  const recoveryMs = Math.round(back!.t1 - healthyAt);
  expect(recoveryMs).toBeLessThanOrEqual(5_000);
  expect(await inspect(agent, '{{.State.StartedAt}}')).toBe(agentBefore.started);
  expect(await inspect(agent, '{{.RestartCount}}')).toBe(agentBefore.restarts);
  expect(attempts.filter((a) => a.ok && a.t0 < stoppedAt).length, 'it worked before the switch too').toBeGreaterThan(0);

  // The fake internet saw nothing but sluice's forwards, each with the real key swapped in.
  const seen = originRecords(dir).slice(originBefore);
  expect(seen.filter((r) => r.kind !== 'https' || r.sni !== 'api.anthropic.com'), 'leaks').toEqual([]);
  expect(seen.filter((r) => (r.time as number) > stoppedAt && (r.time as number) < execAt), 'arrived while sluice was down').toEqual([]);
  for (const r of seen) expect(r.x_api_key).toBe(secrets.anthropicReal);
  expect(seen.length).toBeGreaterThanOrEqual(attempts.filter((a) => a.ok).length);
  expect(await containerLogs(dns)).not.toContain('leak-switch');
  return { recoveryMs, outageMs: Math.round(execAt - stoppedAt), afterExecMs: Math.round(back!.t1 - execAt) };
}
