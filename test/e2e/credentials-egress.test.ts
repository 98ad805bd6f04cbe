// Surrogate credentials end to end, in network namespaces (README.md beside this file): `sluice
// sandbox` builds the pod; real unmodified clients (curl, the official Anthropic and OpenAI
// SDKs under Node, git) run in it as the agent's uid holding ONLY surrogates; the real secrets
// reach sluice alone (an environment variable and files only sluice's uid can read). The
// services in the fake internet demand the real secrets (credentials-origin.ts), so a client
// succeeds only if sluice swapped, and they record what they received. Checked: each origin got
// the real secret; no client ever saw it; a surrogate sent outside its credential's hosts
// reaches no origin (403 surrogate_misuse); no log file and no captured output holds a real
// secret.
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelSuiteSkipReason, run, runOk, type RunOptions, type RunResult } from '../helpers/netns.ts';
import { createTestPki } from '../helpers/pki.ts';
import { NAMES, makeGitRepository, startFakeInternet, type FakeInternet } from './fake-internet.ts';
import { AGENT_UID, SLUICE_UID, podClients, startSandbox, type Pod, type SandboxProcess } from './pod.ts';
import { CRED_NAMES, CRED_NET, startCredentialSites, type CredentialSites } from './credentials-internet.ts';
import type { CredentialOriginRecord } from './credentials-origin.ts';
import { killAll } from '../../src/sandbox/network.ts';
import { ADDITIVE_TRUST_VARIABLES, REPLACING_TRUST_VARIABLES } from '../../src/cli/env.ts';

const SUITE = 'e2e credentials (network namespaces)';

/** The shared requirements, plus git's own HTTP server. */
function skipReason(): string | undefined {
  const base = kernelSuiteSkipReason(SUITE, ['ip', 'iptables', 'ip6tables', 'setpriv', 'dnsmasq', 'curl', 'git', 'python3', 'openssl']);
  if (base !== undefined) return base;
  const gitExec = run('git', ['--exec-path']).stdout.trim();
  if (existsSync(join(gitExec, 'git-http-backend'))) return undefined;
  const reason = `needs git http-backend (not in ${gitExec || 'git --exec-path'})`;
  if (process.env.CI === 'true') throw new Error(`${SUITE}: cannot run under CI=true: ${reason}`);
  console.warn(`[skipped] ${SUITE}: ${reason}`);
  return reason;
}
const skip = skipReason();

const sdkClient = fileURLToPath(new URL('./credentials-sdk-client.ts', import.meta.url));
// Real secrets and surrogates of equal length, so that an echoed secret comes back as exactly
// the surrogate whatever the framing (a Content-Length body keeps its length).
const P = String(process.pid).padStart(7, '0');
const REAL = {
  anthropic: `sk-ant-api03-REAL-${P}-e2e01`,
  openai: `sk-proj-REAL-${P}-e2e02`,
  github: `ghp_REAL-${P}-e2e03`,
};
const SURROGATE = {
  anthropic: 'sk-ant-api03-SURR-sluice0-e2e01',
  openai: 'sk-proj-SURR-sluice0-e2e02',
  github: 'ghp_SURR-sluice0-e2e03',
};
const SECRET_ENV = 'SLUICE_E2E_ANTHROPIC_KEY';
/** Where each credential may go. */
const SCOPE: Record<keyof typeof REAL, string> = { anthropic: CRED_NAMES.anthropic, openai: CRED_NAMES.openai, github: CRED_NAMES.git };
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
/** Every form a real secret could leak in: as is, and inside the Basic header git sends. */
const REAL_FORMS = { ...REAL, githubBasic: basic('x-access-token', REAL.github).slice('Basic '.length) };
const ANTHROPIC_BODY = JSON.stringify({ model: 'claude-test', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });

describe.skipIf(skip !== undefined)('surrogate credentials end to end (sluice sandbox, real clients)', () => {
  let dir: string;
  let pkiDir: string | undefined;
  let fi: FakeInternet;
  let sites: CredentialSites;
  let sandbox: SandboxProcess;
  let pod: Pod;
  let agentHome: string;
  let upstreamCa: string;
  let secretFiles: string[];
  /** The trust variables of CMD's environment, as `sluice sandbox` set them. */
  let trust: Record<string, string>;
  /** CMD's environment (the sandbox's long-running command). */
  let cmdEnviron: string;
  /** Everything every client printed (stdout and stderr), for the final grep. */
  const captured: string[] = [];
  const podName = `sluice-t-${process.pid}-credpod`;

  const agent = (cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult => {
    const r = pod.asAgent(cmd, args, { timeoutMs: 30_000, ...opts, env: { ...trust, ...opts.env } });
    captured.push(r.stdout, r.stderr);
    return r;
  };
  const sdk = (name: 'anthropic' | 'openai', mode: 'json' | 'stream', baseUrl?: string): Record<string, unknown> => {
    const env = name === 'anthropic' ? { ANTHROPIC_API_KEY: SURROGATE.anthropic } : { OPENAI_API_KEY: SURROGATE.openai };
    const r = agent(process.execPath, [sdkClient, name, mode, ...(baseUrl ? [baseUrl] : [])], { env });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`the ${name} SDK client printed no result (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
    }
  };
  /** Records the credential origin received while `attempt` ran. */
  function receivedDuring<T>(attempt: () => T): { result: T; records: CredentialOriginRecord[] } {
    const before = sites.records().length;
    const result = attempt();
    return { result, records: sites.records().slice(before) };
  }
  function accessLog(): Record<string, unknown>[] {
    const file = join(dir, 'logs', 'access.ndjson');
    if (!existsSync(file)) return [];
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.pop(); // only complete lines
    return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  /** The access log is written in batches (up to a second late): waits for the lines wanted. */
  async function waitForLog(match: (l: Record<string, unknown>) => boolean, count = 1): Promise<Record<string, unknown>[]> {
    const deadline = Date.now() + 5_000;
    let found = accessLog().filter(match);
    while (found.length < count && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      found = accessLog().filter(match);
    }
    return found;
  }
  /** Processes whose command line names this run's config: sluice instances (and the sandbox). */
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
  /** Every file under `root`, recursively. */
  function filesUnder(root: string): string[] {
    if (!existsSync(root)) return [];
    return readdirSync(root, { recursive: true, encoding: 'utf8' }).map((f) => join(root, f)).filter((f) => statSync(f).isFile());
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-cred-'));
    chmodSync(dir, 0o755); // sluice (uid 1337) reads its config here
    const pki = await createTestPki();
    pkiDir = pki.dir;
    fi = await startFakeInternet(dir, pki, makeGitRepository(dir).root);
    sites = await startCredentialSites(fi, dir, pki, REAL);

    upstreamCa = join(dir, 'origin-ca.crt');
    copyFileSync(pki.caCert, upstreamCa);
    chmodSync(upstreamCa, 0o644);
    agentHome = join(dir, 'agent-home');
    mkdirSync(agentHome);
    chownSync(agentHome, AGENT_UID, AGENT_UID);
    // Secret files as Docker and Kubernetes mount them: readable by sluice's uid only.
    const secrets = join(dir, 'secrets');
    mkdirSync(secrets, { mode: 0o700 });
    chownSync(secrets, SLUICE_UID, SLUICE_UID);
    secretFiles = [join(secrets, 'openai.key'), join(secrets, 'github.token')];
    for (const [file, value] of [[secretFiles[0], REAL.openai], [secretFiles[1], REAL.github]] as const) {
      writeFileSync(file as string, `${value}\n`, { mode: 0o600 });
      chownSync(file as string, SLUICE_UID, SLUICE_UID);
    }
    const config = join(dir, 'sluice.toml');
    const allow = (host: string, llm?: string): string[] => ['[[allow]]', `host = "${host}"`, 'private = true', ...(llm ? [`llm = "${llm}"`] : [])];
    writeFileSync(config, [
      '[proxy]', 'agent = "e2e-credentials"', `extra_upstream_ca = "${upstreamCa}"`,
      '[dns]', `upstream = "${CRED_NET.dns}"`,
      // The fake internet lives in 198.18.0.0/15, a special-purpose range: opt in per host.
      ...allow(CRED_NAMES.anthropic, 'anthropic'), ...allow(CRED_NAMES.openai, 'openai'),
      ...allow(CRED_NAMES.git), ...allow(CRED_NAMES.elsewhere), ...allow(NAMES.allowed),
      '[credentials.anthropic]', `hosts = ["${CRED_NAMES.anthropic}"]`, `surrogate = "${SURROGATE.anthropic}"`, `secret = { env = "${SECRET_ENV}" }`,
      '[credentials.openai]', `hosts = ["${CRED_NAMES.openai}"]`, `surrogate = "${SURROGATE.openai}"`, 'secret = { file = "secrets/openai.key" }',
      '[credentials.github]', `hosts = ["${CRED_NAMES.git}"]`, `surrogate = "${SURROGATE.github}"`, 'secret = { file = "secrets/github.token" }',
      '',
    ].join('\n'));
    chmodSync(config, 0o644);

    sandbox = await startSandbox(
      ['-c', config, '--name', podName, '--uplink-netns', fi.host.name, '--subnet6', '2001:db8:5c:200::/64', '--user', String(AGENT_UID)],
      ['sleep', '600'],
      { [SECRET_ENV]: REAL.anthropic },
    );
    pod = podClients(podName, join(dir, 'certs'), agentHome);
    // CMD, once it has exec'd (the sandbox says "running" just before).
    const isCmd = (pid: string): boolean => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === ['sleep', '600', ''].join('\0');
      } catch {
        return false; // gone meanwhile
      }
    };
    let cmdPid: string | undefined;
    for (const deadline = Date.now() + 5_000; cmdPid === undefined && Date.now() < deadline;) {
      cmdPid = runOk('ip', ['netns', 'pids', podName]).split('\n').filter(Boolean).find(isCmd);
      if (cmdPid === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    if (cmdPid === undefined) throw new Error('the sandbox\'s command is not running');
    cmdEnviron = readFileSync(`/proc/${cmdPid}/environ`, 'utf8');
    const names = new Set<string>([...ADDITIVE_TRUST_VARIABLES, ...REPLACING_TRUST_VARIABLES]);
    trust = Object.fromEntries(cmdEnviron.split('\0').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])
      .filter(([k]) => names.has(k as string)));
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
    await sites?.stop();
    await fi?.stop();
    for (const d of [dir, pkiDir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('the agent holds surrogates only: CMD\'s environment has no secret, the secret files are unreadable to it', () => {
    expect(cmdEnviron).toContain(`\0NODE_EXTRA_CA_CERTS=${join(dir, 'certs', 'ca.crt')}\0`);
    expect(trust.NODE_EXTRA_CA_CERTS).toBe(join(dir, 'certs', 'ca.crt'));
    expect(cmdEnviron).not.toContain(SECRET_ENV);
    for (const value of Object.values(REAL_FORMS)) expect(cmdEnviron).not.toContain(value);
    for (const file of secretFiles) {
      const r = agent('cat', [file]);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('Permission denied');
    }
  });

  it('the services refuse the surrogate themselves (reached directly, as sluice\'s exempt uid)', () => {
    // Without this, a client's success would not prove that sluice swapped anything.
    const direct = { CURL_CA_BUNDLE: upstreamCa, GIT_SSL_CAINFO: upstreamCa, GIT_TERMINAL_PROMPT: '0' };
    const { result: api, records } = receivedDuring(() => pod.asSluice('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}',
      '-H', `x-api-key: ${SURROGATE.anthropic}`, '-H', 'content-type: application/json', '-d', ANTHROPIC_BODY,
      `https://${CRED_NAMES.anthropic}/v1/messages`], { env: direct }));
    expect(api.stdout).toBe('401');
    expect(records.map((r) => r.headers['x-api-key'])).toEqual([SURROGATE.anthropic]);
    const openai = pod.asSluice('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-H', `authorization: Bearer ${SURROGATE.openai}`,
      '-H', 'content-type: application/json', '-d', '{"model":"gpt-test","messages":[]}', `https://${CRED_NAMES.openai}/v1/chat/completions`], { env: direct });
    expect(openai.stdout).toBe('401');
    const target = join(tmpdir(), `sluice-e2e-cred-${process.pid}-direct`);
    const git = pod.asSluice('git', ['clone', '-q', `https://x-access-token:${SURROGATE.github}@${CRED_NAMES.git}/org/repo.git`, target], { env: direct, timeoutMs: 30_000 });
    rmSync(target, { recursive: true, force: true });
    expect(git.status).not.toBe(0);
    expect(git.stderr).toMatch(/Authentication failed/);
  });

  describe('the origin gets the real secret, the client never sees it', () => {
    it.each(['-4 --http1.1', '-6 --http1.1', '-4 --http2'])('curl %s with x-api-key', (options) => {
      const flags = options.split(' ');
      const { result: r, records } = receivedDuring(() => agent('curl', ['-sS', '-v', ...flags,
        '-H', `x-api-key: ${SURROGATE.anthropic}`, '-H', 'anthropic-version: 2023-06-01', '-H', 'content-type: application/json',
        '-d', ANTHROPIC_BODY, `https://${CRED_NAMES.anthropic}/v1/messages`]));
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(flags.includes('--http2') ? /^< HTTP\/2 200/m : /^< HTTP\/1\.1 200/m);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ host: CRED_NAMES.anthropic, sni: CRED_NAMES.anthropic, method: 'POST', url: '/v1/messages' });
      expect(records[0]?.headers['x-api-key']).toBe(REAL.anthropic);
      // The echoed key comes back as the surrogate, in the body and in the header.
      expect((JSON.parse(r.stdout) as { content: { text: string }[] }).content[0]?.text).toBe(`you sent ${SURROGATE.anthropic}`);
      expect(r.stderr).toMatch(new RegExp(`^< x-e2e-key-seen: ${SURROGATE.anthropic}\\r?$`, 'im'));
      expect(`${r.stdout}${r.stderr}`).not.toContain(REAL.anthropic);
    });

    it.each(['json', 'stream'] as const)('the official Anthropic SDK (%s), key from ANTHROPIC_API_KEY, default base URL', (mode) => {
      const { result, records } = receivedDuring(() => sdk('anthropic', mode));
      expect(result).toMatchObject({ ok: true, status: 200, text: `you sent ${SURROGATE.anthropic}` });
      expect((result.headers as Record<string, string>)['x-e2e-key-seen']).toBe(SURROGATE.anthropic);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ host: CRED_NAMES.anthropic, sni: CRED_NAMES.anthropic, url: '/v1/messages' });
      // SDK versions differ in where they put the key: x-api-key, or Authorization: Bearer.
      const { 'x-api-key': apiKey, authorization } = records[0]?.headers ?? {};
      expect(apiKey === undefined ? authorization : apiKey).toBe(apiKey === undefined ? `Bearer ${REAL.anthropic}` : REAL.anthropic);
      expect(records[0]?.headers['x-stainless-lang']).toBe('js'); // it really is the SDK
      expect(JSON.parse(records[0]?.body ?? '{}')).toMatchObject({ model: 'claude-test', ...(mode === 'stream' ? { stream: true } : {}) });
    });

    it.each(['json', 'stream'] as const)('the official OpenAI SDK (%s), key from OPENAI_API_KEY, default base URL', (mode) => {
      const { result, records } = receivedDuring(() => sdk('openai', mode));
      expect(result).toMatchObject({ ok: true, status: 200, text: `you sent ${SURROGATE.openai}` });
      expect((result.headers as Record<string, string>)['x-e2e-key-seen']).toBe(SURROGATE.openai);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ host: CRED_NAMES.openai, sni: CRED_NAMES.openai, url: '/v1/chat/completions' });
      expect(records[0]?.headers.authorization).toBe(`Bearer ${REAL.openai}`);
      expect(records[0]?.headers['x-stainless-lang']).toBe('js');
    });

    it('git clone https://x-access-token:SURROGATE@git.fake.test/org/repo.git against git http-backend', async () => {
      const target = join(agentHome, 'repo');
      const { result: r, records } = receivedDuring(() => agent('git', ['clone', `https://x-access-token:${SURROGATE.github}@${CRED_NAMES.git}/org/repo.git`, target],
        { env: { GIT_TERMINAL_PROMPT: '0' } }));
      expect(r.status).toBe(0);
      expect(readFileSync(join(target, 'README.md'), 'utf8')).toBe(sites.gitContent);
      // git asks without credentials first; every request that carried some had the real token.
      const authed = records.filter((q) => q.headers.authorization !== undefined);
      expect(authed.length).toBeGreaterThanOrEqual(2); // info/refs and git-upload-pack
      for (const q of authed) expect(q.headers.authorization).toBe(basic('x-access-token', REAL.github));
      expect(records.every((q) => q.host === CRED_NAMES.git && q.sni === CRED_NAMES.git)).toBe(true);
      // What git wrote (the remote URL in .git/config included) has the surrogate, never the token.
      expect(readFileSync(join(target, '.git', 'config'), 'utf8')).toContain(SURROGATE.github);
      for (const file of filesUnder(target)) captured.push(readFileSync(file, 'latin1'));
      const lines = await waitForLog((l) => l.host === CRED_NAMES.git && l.credential === 'github' && l.status === 200, 2);
      expect(lines.length).toBeGreaterThanOrEqual(2);
    });
  });

  describe('a surrogate outside its credential\'s hosts reaches no origin', () => {
    const misuses: [string, () => RunResult][] = [
      ['x-api-key to a host without credentials', () => agent('curl', ['-sS', '-H', `x-api-key: ${SURROGATE.anthropic}`, `https://${CRED_NAMES.elsewhere}/echo`])],
      ['in the query string', () => agent('curl', ['-sS', `https://${CRED_NAMES.elsewhere}/echo?key=${SURROGATE.openai}`])],
      ['in the path', () => agent('curl', ['-sS', `https://${CRED_NAMES.elsewhere}/v1/${SURROGATE.anthropic}/echo`])],
      ['as a bearer token to another origin', () => agent('curl', ['-sS', '-H', `authorization: Bearer ${SURROGATE.github}`, `https://${NAMES.allowed}/hello`])],
      ['to the host of another credential', () => agent('curl', ['-sS', '-H', `x-api-key: ${SURROGATE.anthropic}`, `https://${CRED_NAMES.openai}/v1/models`])],
    ];
    it.each(misuses)('curl: %s → 403 surrogate_misuse', (_what, attempt) => {
      fi.resetCanary();
      const sharedBefore = fi.originRecords().length;
      const { result: r, records } = receivedDuring(attempt);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^sluice: surrogate of credential "\w+" .*\(surrogate_misuse\)\n$/);
      expect(records).toEqual([]);
      expect(fi.originRecords().slice(sharedBefore)).toEqual([]);
      expect(fi.canaryPackets()).toEqual({ v4: 0, v6: 0 });
    });

    it('the OpenAI SDK pointed at another host gets 403 surrogate_misuse, nothing forwarded', () => {
      const { result, records } = receivedDuring(() => sdk('openai', 'json', `https://${CRED_NAMES.elsewhere}/v1`));
      expect(result).toMatchObject({ ok: false, status: 403 });
      expect(String(result.message)).toContain('surrogate_misuse');
      expect(records).toEqual([]);
    });

    it('git sends the token to another git server only after a 401: that request is refused', () => {
      const target = join(agentHome, 'misused');
      const { result: r, records } = receivedDuring(() => agent('git', ['clone', `https://x-access-token:${SURROGATE.github}@${CRED_NAMES.elsewhere}/org/repo.git`, target],
        { env: { GIT_TERMINAL_PROMPT: '0' } }));
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('403');
      expect(existsSync(target)).toBe(false);
      // Only the anonymous first request arrived, and it was answered 401.
      expect(records.length).toBeGreaterThanOrEqual(1);
      for (const q of records) expect(q.headers.authorization).toBeUndefined();
    });

    it('the access log names each refusal surrogate_misuse, by host', async () => {
      const misuse = (host: string) => (l: Record<string, unknown>): boolean => l.reason === 'surrogate_misuse' && l.host === host && l.status === 403;
      expect((await waitForLog(misuse(CRED_NAMES.elsewhere), 5)).length).toBeGreaterThanOrEqual(5); // 3 curl, the SDK, git
      expect(await waitForLog(misuse(NAMES.allowed))).toHaveLength(1);
      expect(await waitForLog(misuse(CRED_NAMES.openai))).toHaveLength(1);
    });

    it('over the whole run, no origin received a surrogate outside its credential\'s hosts', () => {
      const all = sites.records();
      expect(all.length).toBeGreaterThan(0);
      for (const q of all) {
        const seen = JSON.stringify(q) + Buffer.from(String(q.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString('latin1');
        for (const [name, surrogate] of Object.entries(SURROGATE)) {
          if (q.host !== SCOPE[name as keyof typeof SCOPE]) expect(seen.includes(surrogate), `${name} surrogate at ${q.host}${q.url}`).toBe(false);
        }
      }
      for (const q of fi.originRecords()) for (const surrogate of Object.values(SURROGATE)) expect(JSON.stringify(q)).not.toContain(surrogate);
    });
  });

  describe('no real secret anywhere but upstream', () => {
    it('after sluice sandbox ends: no log file, no output of sluice and no client output holds one', async () => {
      sandbox.interrupt();
      expect(await sandbox.exited).toBe(130);
      const logs = filesUnder(join(dir, 'logs'));
      expect(logs.map((f) => f.slice(dir.length))).toEqual(expect.arrayContaining(['/logs/access.ndjson', '/logs/llm.ndjson']));
      // The LLM log saw the exchanges whose answers echoed the real keys, so the grep means something.
      const llm = readFileSync(join(dir, 'logs', 'llm.ndjson'), 'utf8');
      expect(llm).toContain('"provider":"anthropic"');
      expect(llm).toContain('"provider":"openai"');
      const texts: [string, string][] = [
        ...logs.map((f): [string, string] => [f, readFileSync(f, 'latin1')]),
        ['sluice sandbox output (sluice\'s own log included)', sandbox.output()],
        ['client output', captured.join('\n')],
      ];
      expect(sandbox.output()).toContain('sluice: listening on');
      for (const [where, text] of texts) {
        for (const [name, value] of Object.entries(REAL_FORMS)) expect(text.includes(value), `real ${name} in ${where}`).toBe(false);
      }
      // Logs redact surrogates too (DESIGN.md §1).
      for (const f of logs) {
        const text = readFileSync(f, 'latin1');
        for (const [name, value] of Object.entries(SURROGATE)) expect(text.includes(value), `surrogate ${name} in ${f}`).toBe(false);
      }
    });
  });
});
