// The Docker engine for the compose test: checks what the machine has, and starts dockerd when
// none is running, with every address it hands out inside 198.18.0.0/15 and without touching
// the host's firewall or forwarding (so nothing a container sends can leave the machine, and the
// other suites' namespaces see the host as it was). Stops only an engine it started.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** dockerd's flags when the test starts it. docker0 and every network it allocates stay in 198.19.64.0/18. */
export const DOCKERD_FLAGS = [
  '--bip=198.19.64.1/24',
  '--default-address-pool=base=198.19.80.0/20,size=24',
  // No NAT, no FORWARD rules, no forwarding: containers reach each other on their bridge and
  // nothing else. Image builds use the host's network instead (`docker build --network host`).
  '--iptables=false',
  '--ip6tables=false',
  '--ip-forward=false',
] as const;

export function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** The compose commands available: docker-compose 1.x and/or the `docker compose` v2 plugin. */
export function composeCommands(): { v1?: string[]; v2?: string[] } {
  const found: { v1?: string[]; v2?: string[] } = {};
  if (commandExists('docker-compose')) found.v1 = ['docker-compose'];
  if (commandExists('docker') && spawnSync('docker', ['compose', 'version'], { stdio: 'ignore', timeout: 10_000 }).status === 0) {
    found.v2 = ['docker', 'compose'];
  }
  return found;
}

export function engineRunning(): boolean {
  return spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'ignore', timeout: 15_000 }).status === 0;
}

/** Why the compose suite cannot run here, or undefined when it can. Checked without side effects. */
export function missingPrerequisite(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root (it starts a Docker engine and containers with NET_ADMIN)';
  if (!commandExists('docker')) return 'no docker client (apt-get install docker.io)';
  if (!engineRunning() && !commandExists('dockerd')) return 'no Docker engine running and no dockerd to start (apt-get install docker.io)';
  const compose = composeCommands();
  if (compose.v1 === undefined && compose.v2 === undefined) return 'no docker-compose (apt-get install docker-compose)';
  if (process.env.SLUICE_TEST_BASE_IMAGE === undefined && !commandExists('debootstrap')) {
    return 'no debootstrap to build the stand-in base image (apt-get install debootstrap), and SLUICE_TEST_BASE_IMAGE is not set';
  }
  return undefined;
}

export interface Engine {
  started: boolean;
  stop(): Promise<void>;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, ok: () => boolean, timeoutMs: number, logFile?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  const tail = logFile !== undefined && existsSync(logFile) ? `\n${readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n')}` : '';
  throw new Error(`${what} within ${timeoutMs / 1000} s${tail}`);
}

/** Uses the running engine, or starts dockerd (logging to logDir) and waits until it answers. */
export async function ensureEngine(logDir: string): Promise<Engine> {
  if (engineRunning()) return { started: false, stop: async () => {} };
  // A dockerd that died leaves its pid file behind, and a new one refuses to start over it.
  const pidFile = '/var/run/docker.pid';
  if (existsSync(pidFile)) {
    const old = Number(readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(old) || old <= 0 || !pidAlive(old)) rmSync(pidFile, { force: true });
  }
  const logFile = join(logDir, 'dockerd.log');
  const fd = openSync(logFile, 'a');
  const child = spawn('dockerd', [...DOCKERD_FLAGS], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start dockerd');
  await waitFor('dockerd did not answer', () => engineRunning() || !pidAlive(pid), 60_000, logFile);
  if (!engineRunning()) throw new Error(`dockerd exited at start:\n${readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n')}`);
  return {
    started: true,
    async stop() {
      if (!pidAlive(pid)) return;
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 30_000;
      while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
    },
  };
}
