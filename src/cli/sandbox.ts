// `sluice sandbox [options] -- CMD…` (Linux, root): run CMD in a fresh network namespace whose
// only way out is sluice. Creates the namespace and its veth link (src/sandbox/network.ts),
// applies the same init step as the sidecar (iptables/sluice-init.sh), starts sluice inside it
// as its exempt uid, runs CMD as the invoking user (no supplementary groups) with the CA trust
// variables set, and tears everything down when CMD exits (Ctrl-C included), returning CMD's
// exit status. It refuses to start when CMD could change or read what sluice depends on
// (src/sandbox/trust.ts).
import { secretSources } from '../credentials/secret-sources.ts';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { createSandboxNetwork, type SandboxNetwork } from '../sandbox/network.ts';
import { exitCodeOf, resolveIdentity, spawnInSandbox, type Identity } from '../sandbox/processes.ts';
import { describeTrustProblems, guardedPaths, packageProblems, refuseIdentity, trustProblems } from '../sandbox/trust.ts';
import { trustVariables } from './env.ts';

const USAGE = `usage: sluice sandbox [-c sluice.toml] [--user USER[:GID]] [--name NETNS]
                      [--subnet A.B.C.D/30] [--subnet6 PREFIX::/64] [--uplink-netns NETNS] -- CMD…

Runs CMD in a new network namespace whose egress goes only through sluice (Linux, as root).
  --user          who CMD runs as, never root (default: the user who ran sudo); it keeps no
                  supplementary group, and must not be able to change the config (or any
                  folder on its path), the CA, the code, or read secrets, keys and logs
  --name          name of the namespace (default sluice-PID)
  --subnet        the /30 of the link to the host (default: a free one in 198.19.255.0/24)
  --subnet6       give the sandbox IPv6 through the host too (turns on IPv6 forwarding there)
  --uplink-netns  put the host end of the link in this namespace (tests)
`;

const INIT_SCRIPT = fileURLToPath(new URL('../../iptables/sluice-init.sh', import.meta.url));
const SLUICE_BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
const INIT_TEMPLATES = ['rules.v4.tmpl', 'rules.v6.tmpl'].map((f) => fileURLToPath(new URL(`../../iptables/${f}`, import.meta.url)));
const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

const say = (line: string): void => {
  process.stderr.write(`sluice sandbox: ${line}\n`);
};

export async function sandboxCommand(argv: string[]): Promise<number> {
  const split = argv.indexOf('--');
  const command = split >= 0 ? argv.slice(split + 1) : [];
  const own = split >= 0 ? argv.slice(0, split) : argv;
  if (own.includes('--help') || own.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (split < 0 || command.length === 0) {
    process.stderr.write(USAGE);
    return 2;
  }
  const { values } = parseArgs({
    args: argv.slice(0, split),
    options: {
      config: { type: 'string', short: 'c', default: 'sluice.toml' },
      user: { type: 'string' },
      name: { type: 'string' },
      subnet: { type: 'string' },
      subnet6: { type: 'string' },
      'uplink-netns': { type: 'string' },
    },
    strict: true,
  });
  if (process.platform !== 'linux') throw new Error('needs Linux (network namespaces and iptables)');
  if (process.getuid?.() !== 0) throw new Error('needs root to create a network namespace; run it with sudo');

  const config = await loadConfig(resolve(values.config));
  const sluiceId: Identity = { uid: config.proxy.uid, gid: config.proxy.uid, name: undefined, home: undefined };
  const agent = resolveIdentity(values.user ?? defaultUser());
  if (agent.uid === sluiceId.uid) {
    throw new Error(`CMD cannot run as uid ${agent.uid}: that is sluice's uid, which the rules leave uncaptured`);
  }
  const name = values.name ?? `sluice-${process.pid}`;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error(`--name "${name}" is not a usable namespace name`);
  refuseUntrusted(agent, resolve(values.config), config);

  // Outside CMD's lifetime a signal must not kill the sandbox half-built or half-removed: it is
  // noted, and the sandbox ends (tearing down) at the next step.
  let interrupted: NodeJS.Signals | undefined;
  const note = (signal: NodeJS.Signals): void => {
    interrupted ??= signal;
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, note);
  let network: SandboxNetwork | undefined;
  let sluice: ChildProcess | undefined;
  try {
    network = createSandboxNetwork({
      name,
      subnet4: values.subnet,
      subnet6: values.subnet6,
      uplinkNetns: values['uplink-netns'],
      nameservers: nameserversFor(config),
    });
    applyCaptureRules(name, config);
    prepareStateDirs(config);
    sluice = await startSluiceInside(name, sluiceId, resolve(values.config));
    say(`namespace ${name}: sandbox ${network.podAddress4}, host ${network.hostAddress4}; sluice pid ${sluice.pid}`);
    if (interrupted) {
      say(`${interrupted} before CMD started; tearing down`);
      return 128 + (constants.signals[interrupted] ?? 0);
    }
    for (const s of signals) process.off(s, note);
    try {
      return await runCommand(network, agent, command, config);
    } finally {
      for (const s of signals) process.on(s, note);
    }
  } finally {
    if (sluice) await stop(sluice, (config.proxy.drainSeconds + 2) * 1000);
    for (const leftover of network?.teardown() ?? []) say(`could not undo: ${leftover}`);
    for (const s of signals) process.off(s, note);
  }
}

/**
 * Before anything is created: CMD must not be able to change what sluice trusts or read what it
 * guards (DESIGN.md §1). The identity is checked exactly as CMD will run: uid, gid, no groups.
 */
function refuseUntrusted(agent: Identity, configFile: string, config: Config): void {
  const who = { uid: agent.uid, gid: agent.gid };
  const refusal = refuseIdentity(who, config.proxy.uid);
  if (refusal) throw new Error(refusal);
  const code = [INIT_SCRIPT, ...INIT_TEMPLATES, SLUICE_BIN, PACKAGE_DIR, process.execPath];
  const problems = [...trustProblems(who, guardedPaths({ configFile, config, code })), ...packageProblems(who, PACKAGE_DIR)];
  if (problems.length > 0) throw new Error(describeTrustProblems(who, problems));
}

/** The user who ran sudo; root otherwise (which refuseUntrusted then refuses). */
function defaultUser(): string {
  const uid = process.env.SUDO_UID;
  const gid = process.env.SUDO_GID;
  if (uid && /^\d+$/.test(uid)) return gid && /^\d+$/.test(gid) ? `${uid}:${gid}` : uid;
  return '0';
}

/**
 * What the sandbox's resolv.conf says. The agent's DNS is captured whatever it says; this is for
 * sluice's own lookups when [dns] upstream is unset, so it must be a resolver reachable from
 * inside the namespace: a loopback stub (systemd-resolved's 127.0.0.53) is not.
 */
function nameserversFor(config: Config): string[] {
  if (config.dns.upstream) {
    const upstream = config.dns.upstream;
    const host = upstream.startsWith('[') ? upstream.slice(1, upstream.indexOf(']')) : upstream.replace(/:\d+$/, '');
    if (host.startsWith('127.') || host === '::1' || host === 'localhost') {
      throw new Error(`[dns] upstream = "${upstream}" is loopback: inside the sandbox that is the sandbox's own loopback, not the host's`);
    }
    return [host];
  }
  for (const file of ['/etc/resolv.conf', '/run/systemd/resolve/resolv.conf']) {
    if (!existsSync(file)) continue;
    const servers = [...readFileSync(file, 'utf8').matchAll(/^\s*nameserver\s+(\S+)/gm)]
      .map((m) => m[1] as string)
      .filter((s) => !s.startsWith('127.') && s !== '::1');
    if (servers.length > 0) return servers;
  }
  throw new Error('no resolver reachable from a namespace in /etc/resolv.conf (only a loopback stub); set [dns] upstream');
}

function applyCaptureRules(name: string, config: Config): void {
  const p = config.proxy;
  const result = spawnSync('ip', ['netns', 'exec', name, 'bash', INIT_SCRIPT, 'apply'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      ...process.env,
      SLUICE_UID: String(p.uid),
      SLUICE_HTTPS_PORT: String(p.httpsPort),
      SLUICE_HTTP_PORT: String(p.httpPort),
      SLUICE_DENY_PORT: String(p.denyPort),
      SLUICE_DNS_PORT: String(p.dnsPort),
      SLUICE_ADMIN_PORT: String(p.adminPort),
    },
  });
  if (result.status !== 0) {
    throw new Error(`the capture rules could not be installed (fail closed): ${(result.stderr || String(result.error)).trim()}`);
  }
}

/**
 * sluice runs as its own uid: its CA and log folders must be its own. The CA folder is
 * readable by the agent (ca.crt and the bundle; ca.key is 0600), the log folder is not.
 */
function prepareStateDirs(config: Config): void {
  for (const [dir, mode] of [[config.proxy.caDir, 0o755], [config.proxy.logDir, 0o700]] as const) {
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true, mode });
      chownSync(dir, config.proxy.uid, config.proxy.uid);
    } else if (statSync(dir).uid !== config.proxy.uid) {
      say(`warning: ${dir} is not owned by uid ${config.proxy.uid}, which sluice runs as; if sluice cannot use it: chown -R ${config.proxy.uid} ${dir}`);
    }
  }
}

async function startSluiceInside(name: string, id: Identity, configFile: string): Promise<ChildProcess> {
  const child = spawnInSandbox({
    netns: name,
    identity: id,
    command: [process.execPath, SLUICE_BIN, 'run', '-c', configFile],
    env: { ...process.env, HOME: '/nonexistent' },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: Ctrl-C on the terminal reaches CMD, and sluice outlives it.
    detached: true,
  });
  let output = '';
  let ready = false;
  const forward = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    if (!ready) output += text;
    process.stderr.write(text);
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => fail(new Error(`sluice did not start within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
    const onData = (): void => {
      if (/sluice: listening on/.test(output)) done();
    };
    const onExit = (code: number | null): void => fail(new Error(`sluice exited (${code}) before it was ready`));
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
    }
    function done(): void {
      ready = true;
      cleanup();
      resolveReady();
    }
    function fail(err: Error): void {
      cleanup();
      child.kill('SIGKILL');
      reject(err);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
  const onUnexpectedExit = (code: number | null, signal: NodeJS.Signals | null): void => {
    say(`sluice stopped (${signal ?? code}); the sandbox has no egress until CMD ends`);
  };
  child.once('exit', onUnexpectedExit);
  expectedExits.set(child, () => child.off('exit', onUnexpectedExit));
  return child;
}

/** Environment variables the config reads real secrets from: sluice's, never CMD's. */
export function secretVariables(config: Config): string[] {
  // The one list of secret sources (what `sluice check` and `sluice run` read).
  return secretSources(config).flatMap(({ source }) => (source.kind === 'env' ? [source.name] : []));
}

async function runCommand(network: SandboxNetwork, agent: Identity, command: string[], config: Config): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...trustVariables(config.proxy.caDir) };
  // The agent must never hold a real secret (DESIGN.md threat model): `sudo -E` would pass them on.
  for (const name of secretVariables(config)) delete env[name];
  if (agent.name && agent.home) Object.assign(env, { HOME: agent.home, USER: agent.name, LOGNAME: agent.name });
  say(`running ${command[0]} as uid ${agent.uid}${agent.uid === 0 ? ' (without capabilities)' : ''}`);
  const child = spawnInSandbox({ netns: network.name, identity: agent, command, env, stdio: 'inherit', detached: false });
  // Ctrl-C on a terminal reaches CMD by itself (same process group; sluice has its own), so
  // SIGINT is not passed on twice: an interactive shell inside must survive it. SIGTERM and
  // SIGHUP sent to sluice sandbox are passed on.
  const relay = (signal: NodeJS.Signals): void => {
    if (signal !== 'SIGINT') child.kill(signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, relay);
  try {
    return await exitCodeOf(child);
  } finally {
    for (const s of signals) process.off(s, relay);
  }
}

/** Detaches the "sluice stopped" warning when the sandbox itself is the one stopping sluice. */
const expectedExits = new WeakMap<ChildProcess, () => void>();

async function stop(child: ChildProcess, graceMs: number): Promise<void> {
  expectedExits.get(child)?.();
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
