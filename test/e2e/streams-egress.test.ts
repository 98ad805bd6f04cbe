// gRPC and WebSocket end to end, in network namespaces (README.md beside this file): `sluice
// sandbox` builds the pod; an unmodified @grpc/grpc-js program and an unmodified `ws` program
// (streams-client.ts) run in it as the agent's uid holding ONLY a surrogate bearer token, with
// the trust `sluice sandbox` gives them; the real token reaches sluice alone (a file only
// sluice's uid can read). The services in the fake internet (streams-origin.ts) demand the real
// token and echo it back, so a client succeeds only if sluice swapped, and sees its surrogate
// only if sluice scrubbed. Checked: gRPC unary, server streaming and bidi streaming over h2 both
// sides with trailers intact; a WebSocket session with ping/pong and the origin's close code;
// a host outside the allowlist answered PERMISSION_DENIED (gRPC) or 403 (WebSocket) without
// reaching its server; no log and no client output holds the real token.
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelSuiteSkipReason, run, type RunOptions, type RunResult } from '../helpers/netns.ts';
import { createTestPki } from '../helpers/pki.ts';
import { makeGitRepository, startFakeInternet, type FakeInternet } from './fake-internet.ts';
import { AGENT_UID, SLUICE_UID, podClients, startSandbox, type Pod, type SandboxProcess } from './pod.ts';
import { STREAMS_NAMES, STREAMS_NET, startStreamSites, type StreamSites } from './streams-internet.ts';
import type { StreamsOriginRecord } from './streams-origin.ts';
import { killAll } from '../../src/sandbox/network.ts';
import { ADDITIVE_TRUST_VARIABLES, REPLACING_TRUST_VARIABLES } from '../../src/cli/env.ts';

const SUITE = 'e2e streams: gRPC and WebSocket (network namespaces)';
const skip = kernelSuiteSkipReason(SUITE, ['ip', 'iptables', 'ip6tables', 'setpriv', 'dnsmasq', 'git', 'openssl']);

const client = fileURLToPath(new URL('./streams-client.ts', import.meta.url));
// Real token and surrogate of equal length: an echoed token comes back as exactly the
// surrogate, and a gRPC message's length prefix stays true whatever sluice does about it.
const REAL = `grpc-ws-REAL-${String(process.pid).padStart(7, '0')}-e2e`;
const SURROGATE = 'grpc-ws-SURR-sluice0-e2e';
/** gRPC's codes (grpc.status), spelled out so that this file does not load grpc-js itself. */
const CODE = { OK: 0, NOT_FOUND: 5, PERMISSION_DENIED: 7, FAILED_PRECONDITION: 9, UNAUTHENTICATED: 16 } as const;

interface GrpcResult {
  ok: boolean;
  reply?: string;
  messages?: string[];
  code: number;
  codeName: string;
  details: string;
  trailers: Record<string, unknown>;
  error?: string;
}
interface WsResult {
  ok: boolean;
  status?: number;
  body?: string;
  headers?: Record<string, unknown>;
  messages?: string[];
  pong?: string;
  close?: { code: number; reason: string };
  error?: string;
}

describe.skipIf(skip !== undefined)('gRPC and WebSocket end to end (sluice sandbox, real clients)', () => {
  let dir: string;
  let pkiDir: string | undefined;
  let fi: FakeInternet;
  let sites: StreamSites;
  let sandbox: SandboxProcess;
  let pod: Pod;
  let agentHome: string;
  let upstreamCa: string;
  let secretFile: string;
  /** The trust variables of CMD's environment, as `sluice sandbox` set them. */
  let trust: Record<string, string>;
  /** Everything every client printed (stdout and stderr), for the final grep. */
  const captured: string[] = [];
  const podName = `sluice-t-${process.pid}-strpod`;

  /** Runs streams-client.ts in the pod and parses the one JSON line it prints. */
  function streamsClient<T>(as: 'agent' | 'sluice', args: string[], env: RunOptions['env'] = {}): T {
    const opts = { timeoutMs: 30_000, env: { STREAMS_API_TOKEN: SURROGATE, ...env } };
    const r: RunResult = as === 'agent'
      ? pod.asAgent(process.execPath, [client, ...args], { ...opts, env: { ...trust, ...opts.env } })
      : pod.asSluice(process.execPath, [client, ...args], opts);
    captured.push(r.stdout, r.stderr);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(line) as T;
    } catch {
      throw new Error(`streams-client.ts ${args.join(' ')} printed no result (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
    }
  }
  const grpcAgent = (mode: string, host: string, text = 'hi', env: RunOptions['env'] = {}): GrpcResult =>
    streamsClient<GrpcResult>('agent', ['grpc', mode, host, text], env);
  /** Records the services received while `attempt` ran. */
  function receivedDuring<T>(attempt: () => T): { result: T; records: StreamsOriginRecord[] } {
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
  function filesUnder(root: string): string[] {
    if (!existsSync(root)) return [];
    return readdirSync(root, { recursive: true, encoding: 'utf8' }).map((f) => join(root, f)).filter((f) => statSync(f).isFile());
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-streams-'));
    chmodSync(dir, 0o755); // sluice (uid 1337) reads its config here
    const pki = await createTestPki();
    pkiDir = pki.dir;
    fi = await startFakeInternet(dir, pki, makeGitRepository(dir).root);
    sites = await startStreamSites(fi, dir, pki, REAL);

    upstreamCa = join(dir, 'origin-ca.crt');
    copyFileSync(pki.caCert, upstreamCa);
    chmodSync(upstreamCa, 0o644);
    agentHome = join(dir, 'agent-home');
    mkdirSync(agentHome);
    chownSync(agentHome, AGENT_UID, AGENT_UID);
    // The real token as Docker and Kubernetes mount a secret: readable by sluice's uid only.
    const secrets = join(dir, 'secrets');
    mkdirSync(secrets, { mode: 0o700 });
    chownSync(secrets, SLUICE_UID, SLUICE_UID);
    secretFile = join(secrets, 'streams.token');
    writeFileSync(secretFile, `${REAL}\n`, { mode: 0o600 });
    chownSync(secretFile, SLUICE_UID, SLUICE_UID);

    const config = join(dir, 'sluice.toml');
    const allow = (host: string): string[] => ['[[allow]]', `host = "${host}"`, 'private = true'];
    writeFileSync(config, [
      '[proxy]', 'agent = "e2e-streams"', `extra_upstream_ca = "${upstreamCa}"`,
      // The default, spelled out: gRPC needs h2 to the origin, negotiated by ALPN.
      '[upstream]', 'http2 = true',
      '[dns]', `upstream = "${STREAMS_NET.dns}"`,
      // The fake internet lives in 198.18.0.0/15, a special-purpose range: opt in per host.
      ...allow(STREAMS_NAMES.grpc), ...allow(STREAMS_NAMES.ws),
      '[credentials.streams]', `hosts = ["${STREAMS_NAMES.grpc}", "${STREAMS_NAMES.ws}"]`, `surrogate = "${SURROGATE}"`,
      'secret = { file = "secrets/streams.token" }',
      '',
    ].join('\n'));
    chmodSync(config, 0o644);

    sandbox = await startSandbox(
      ['-c', config, '--name', podName, '--uplink-netns', fi.host.name, '--subnet6', '2001:db8:5c:200::/64', '--user', String(AGENT_UID)],
      ['sleep', '600'],
    );
    pod = podClients(podName, join(dir, 'certs'), agentHome);
    // CMD's trust variables, as sluice sandbox set them (once it has exec'd).
    const isCmd = (pid: string): boolean => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === ['sleep', '600', ''].join('\0');
      } catch {
        return false; // gone meanwhile
      }
    };
    let cmdPid: string | undefined;
    for (const deadline = Date.now() + 5_000; cmdPid === undefined && Date.now() < deadline;) {
      cmdPid = run('ip', ['netns', 'pids', podName]).stdout.split('\n').filter(Boolean).find(isCmd);
      if (cmdPid === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    if (cmdPid === undefined) throw new Error('the sandbox\'s command is not running');
    const environ = readFileSync(`/proc/${cmdPid}/environ`, 'utf8');
    const names = new Set<string>([...ADDITIVE_TRUST_VARIABLES, ...REPLACING_TRUST_VARIABLES]);
    trust = Object.fromEntries(environ.split('\0').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])
      .filter(([k]) => names.has(k as string)));
    expect(environ).not.toContain(REAL);
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

  it('calibration: reached directly (as sluice\'s exempt uid), the services refuse the surrogate and serve the denied names', () => {
    // Without this, a client's success would not prove that sluice swapped anything, and a
    // refusal of the denied names would not prove that sluice refused them.
    // sluice's own trust variables point gRPC at sluice's bundle: the direct calls trust the upstream CA.
    const direct = { NODE_EXTRA_CA_CERTS: upstreamCa, GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: undefined };
    for (const host of [STREAMS_NAMES.grpc, STREAMS_NAMES.grpcDenied]) {
      const { result, records } = receivedDuring(() => streamsClient<GrpcResult>('sluice', ['grpc', 'unary', host], direct));
      expect(result).toMatchObject({ ok: false, code: CODE.UNAUTHENTICATED, details: 'invalid bearer token' });
      expect(records).toEqual([expect.objectContaining({ kind: 'grpc', host: `${host}:443`, authorization: `Bearer ${SURROGATE}` })]);
    }
    for (const host of [STREAMS_NAMES.ws, STREAMS_NAMES.wsDenied]) {
      const { result, records } = receivedDuring(() => streamsClient<WsResult>('sluice', ['ws', host, '/socket'], direct));
      expect(result).toMatchObject({ ok: false, status: 401, body: 'invalid token\n' });
      expect(records).toEqual([expect.objectContaining({ kind: 'ws', host, sni: host, authorization: `Bearer ${SURROGATE}` })]);
    }
  });

  it('the agent cannot read the real token', () => {
    const r = pod.asAgent('cat', [secretFile]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('Permission denied');
    expect(trust.NODE_EXTRA_CA_CERTS).toBe(join(dir, 'certs', 'ca.crt'));
  });

  describe('gRPC (@grpc/grpc-js) through the capture: the server gets the real token, the client never sees it', () => {
    it('unary, trust from NODE_EXTRA_CA_CERTS (set by sluice sandbox): real token in `authorization`, reply scrubbed, trailers intact', () => {
      const { result, records } = receivedDuring(() => grpcAgent('unary', STREAMS_NAMES.grpc));
      expect(result).toMatchObject({ ok: true, code: CODE.OK, reply: `echo hi with ${SURROGATE}` });
      expect(result.trailers['x-trailer']).toBe('kept');
      expect(records).toEqual([{ kind: 'grpc', host: `${STREAMS_NAMES.grpc}:443`, path: '/sluice.e2e.Streams/Unary', authorization: `Bearer ${REAL}` }]);
    });

    it('unary, trust from GRPC_DEFAULT_SSL_ROOTS_FILE_PATH alone (set by sluice sandbox too: sluice\'s bundle; NODE_EXTRA_CA_CERTS unset)', () => {
      const bundle = join(dir, 'certs', 'ca-bundle.crt');
      const { result, records } = receivedDuring(() => grpcAgent('unary', STREAMS_NAMES.grpc, 'bundle',
        { NODE_EXTRA_CA_CERTS: undefined, GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: bundle }));
      expect(result).toMatchObject({ ok: true, code: CODE.OK, reply: `echo bundle with ${SURROGATE}` });
      expect(records.map((r) => r.authorization)).toEqual([`Bearer ${REAL}`]);
      // Calibration of the trust: without either variable the client refuses sluice's certificate.
      const untrusted = grpcAgent('unary', STREAMS_NAMES.grpc, 'untrusted', { NODE_EXTRA_CA_CERTS: undefined, GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: undefined });
      expect(untrusted).toMatchObject({ ok: false, code: 14 }); // UNAVAILABLE
      expect(untrusted.details).toMatch(/certificate/i);
    });

    it('an error status and its message cross unchanged (grpc-status, grpc-message)', () => {
      const result = grpcAgent('unary', STREAMS_NAMES.grpc, 'fail');
      expect(result).toMatchObject({ ok: false, code: CODE.NOT_FOUND, details: 'no such thing' });
    });

    it('server streaming: every message, the last one scrubbed, then the trailers', () => {
      const { result, records } = receivedDuring(() => grpcAgent('server-stream', STREAMS_NAMES.grpc, 's'));
      expect(result).toMatchObject({ ok: true, code: CODE.OK, messages: ['s-1', 's-2', `s-3 key ${SURROGATE}`] });
      expect(result.trailers['x-count']).toBe('3');
      expect(records.map((r) => [r.path, r.authorization])).toEqual([['/sluice.e2e.Streams/ServerStream', `Bearer ${REAL}`]]);
    });

    it('bidi streaming, full duplex: each reply arrives before the next message is sent', () => {
      const { result, records } = receivedDuring(() => grpcAgent('bidi', STREAMS_NAMES.grpc));
      expect(result).toMatchObject({ ok: true, code: CODE.OK, messages: ['X', 'Y', `your key is ${SURROGATE}`] });
      expect(records.map((r) => [r.path, r.authorization])).toEqual([['/sluice.e2e.Streams/Bidi', `Bearer ${REAL}`]]);
    });

    it('the access log has each call on the gRPC host with the credential used', async () => {
      const lines = await waitForLog((l) => l.host === STREAMS_NAMES.grpc && l.credential === 'streams'
        && String(l.path).startsWith('/sluice.e2e.Streams/'), 5);
      expect(new Set(lines.map((l) => l.path))).toEqual(new Set(['/sluice.e2e.Streams/Unary', '/sluice.e2e.Streams/ServerStream', '/sluice.e2e.Streams/Bidi']));
    });

    it('a host outside the allowlist: PERMISSION_DENIED with the reason, nothing reaches its server', async () => {
      fi.resetCanary();
      const { result, records } = receivedDuring(() => grpcAgent('unary', STREAMS_NAMES.grpcDenied));
      expect(result).toMatchObject({ ok: false, code: CODE.PERMISSION_DENIED });
      expect(result.details).toContain('not_allowlisted');
      expect(records).toEqual([]);
      expect(fi.canaryPackets()).toEqual({ v4: 0, v6: 0 });
      expect(await waitForLog((l) => l.host === STREAMS_NAMES.grpcDenied && l.reason === 'not_allowlisted')).not.toEqual([]);
    });
  });

  describe('gRPC: an echoed token in the trailers reaches the client as the surrogate', () => {
    // DESIGN §1: the scrub covers every byte that comes back from a credential host. In gRPC
    // the status message and custom trailing metadata come back as HTTP/2 trailers.
    it('in a custom trailer', () => {
      const result = grpcAgent('unary', STREAMS_NAMES.grpc, 'echo-in-trailer');
      expect(result).toMatchObject({ ok: true, code: CODE.OK });
      expect(JSON.stringify(result)).not.toContain(REAL);
      expect(result.trailers['x-key-seen']).toBe(SURROGATE);
    });

    it('in grpc-message of a trailers-only response (an error before any message)', () => {
      const result = grpcAgent('unary', STREAMS_NAMES.grpc, 'echo-in-status');
      expect(result).toMatchObject({ ok: false, code: CODE.FAILED_PRECONDITION });
      expect(JSON.stringify(result)).not.toContain(REAL);
      expect(result.details).toBe(`token ${SURROGATE} is read-only`);
    });

    it('in grpc-message of real trailers (an error after a message)', () => {
      const result = grpcAgent('server-stream', STREAMS_NAMES.grpc, 'echo-in-status');
      expect(result).toMatchObject({ ok: false, code: CODE.FAILED_PRECONDITION, messages: ['one'] });
      expect(JSON.stringify(result)).not.toContain(REAL);
      expect(result.details).toBe(`token ${SURROGATE} is read-only`);
    });
  });

  describe('WebSocket (`ws`) through the capture', () => {
    it.each([['IPv4', '4'], ['IPv6', '6']])('%s: the upgrade carries the real token, every echo comes back as the surrogate, ping/pong and the close code cross', (_family, family) => {
      const { result, records } = receivedDuring(() => streamsClient<WsResult>('agent', ['ws', STREAMS_NAMES.ws, '/socket', family]));
      expect(result).toMatchObject({
        ok: true,
        messages: [`your key is ${SURROGATE}`, 'echo:round trip'],
        pong: 'are you there',
        close: { code: 4000, reason: 'bye from the origin' },
      });
      expect(result.headers?.['x-echo']).toBe(`Bearer ${SURROGATE}`);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ kind: 'ws', host: STREAMS_NAMES.ws, sni: STREAMS_NAMES.ws, path: '/socket', authorization: `Bearer ${REAL}` });
      // A compressed frame could hide an echoed token from the scrub: sluice offers none.
      expect(records[0]?.extensions).toBeUndefined();
    });

    it('a host outside the allowlist: the upgrade is refused 403, nothing reaches its server', async () => {
      fi.resetCanary();
      const { result, records } = receivedDuring(() => streamsClient<WsResult>('agent', ['ws', STREAMS_NAMES.wsDenied, '/socket']));
      expect(result).toMatchObject({ ok: false, status: 403 });
      expect(result.body).toContain('not_allowlisted');
      expect(records).toEqual([]);
      expect(fi.canaryPackets()).toEqual({ v4: 0, v6: 0 });
      expect(await waitForLog((l) => l.host === STREAMS_NAMES.wsDenied && l.reason === 'not_allowlisted')).not.toEqual([]);
    });
  });

  describe('no real token anywhere but upstream', () => {
    it('after sluice sandbox ends: no log file, no output of sluice and no client output holds it', async () => {
      sandbox.interrupt();
      expect(await sandbox.exited).toBe(130);
      const logs = filesUnder(join(dir, 'logs'));
      expect(logs.map((f) => f.slice(dir.length))).toContain('/logs/access.ndjson');
      expect(sandbox.output()).toContain('sluice: listening on');
      const texts: [string, string][] = [
        ...logs.map((f): [string, string] => [f, readFileSync(f, 'latin1')]),
        ['sluice sandbox output (sluice\'s own log included)', sandbox.output()],
        ['client output', captured.join('\n')],
      ];
      expect(texts.filter(([, text]) => text.includes(REAL)).map(([where]) => where), 'where the real token turned up').toEqual([]);
      // Logs redact surrogates too (DESIGN.md §1).
      for (const f of logs) expect(readFileSync(f, 'latin1').includes(SURROGATE), `surrogate in ${f}`).toBe(false);
      // The services did receive it: the grep above means something.
      expect(sites.records().some((r) => r.authorization === `Bearer ${REAL}`)).toBe(true);
    });
  });
});
