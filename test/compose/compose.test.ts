// `docker compose up` beside an unmodified agent, under a real Docker engine (issue 6,
// DESIGN.md §5). The real compose.yaml plus compose.test.yaml, which only adds the fake
// internet (an HTTPS origin and its DNS server), the test's policy, CA and secrets.
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
  mustRun, originRecords, prepareFiles, sluiceImage, toolsImage, waitHealthy, type Compose,
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
      });
      await compose(['down', '-v', '--remove-orphans', '-t', '1'], 120_000); // leftovers of a killed run
      upStarted = new Date().toISOString();
      const up = await timed('up', () => compose!(['up', '-d', '--no-build'], 240_000));
      if (up.code !== 0) throw new Error(`compose up failed:\n${up.stderr.slice(-4000)}`);
      [sluice, agent, dns] = await Promise.all([containerId(compose, 'sluice'), containerId(compose, 'agent'), containerId(compose, 'dns')]);
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

  it('brings sluice up healthy first, then the agent, and the entrypoint installed the rules for IPv4 and IPv6', async (ctx) => {
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
    const logs = await containerLogs(sluice);
    expect(logs).toMatch(/sluice-init: applied \(v4 v6/);
    // sluice itself: uid 1337, no capability in any set, no_new_privs.
    const status = (await exec(sluice, ['cat', '/proc/1/status'])).stdout;
    expect(status).toMatch(/^Uid:\s+1337\s+1337\s+1337\s+1337$/m);
    for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(status).toMatch(new RegExp(`^${set}:\\s+0+$`, 'm'));
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
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

  it('sluice resolves through the fake internet\'s DNS server, not Docker\'s embedded DNS', async (ctx) => {
    ready(ctx);
    // api.anthropic.com is no network alias: only the dns container knows it.
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

  it('killing sluice leaves the agent with no egress; a restarted sluice strands it until the agent is restarted too', async (ctx) => {
    ready(ctx);
    const call = async (): Promise<{ code: number | null; body: string }> => {
      const r = await inAgent(['sh', '-c', 'curl -sS -m 8 https://api.anthropic.com/v1/messages -H "x-api-key: $ANTHROPIC_API_KEY" '
        + `-H "content-type: application/json" -d '${MESSAGE}'`], 20_000);
      return { code: r.code, body: r.stdout };
    };
    const before = originRecords(dir).length;
    await mustRun('docker', ['kill', sluice]);
    const dead = await call();
    expect(dead.code).not.toBe(0);

    // sluice comes back in a new network namespace; the agent still holds the old one.
    await mustRun('docker', ['start', sluice]);
    await waitHealthy(sluice);
    const stranded = await call();
    expect(stranded.code).not.toBe(0);
    expect(originRecords(dir).slice(before)).toEqual([]);

    // The documented recovery: restart the agent so that it joins sluice's new namespace.
    const restart = await compose!(['restart', '-t', '1', 'agent'], 60_000);
    expect(restart.code, restart.stderr).toBe(0);
    const recovered = await call();
    expect(recovered.code).toBe(0);
    expect(recovered.body).toContain('hello from the fake origin');
  }, 180_000);
});
