// The "pod" of the end-to-end suite is made by `sluice sandbox` itself (the product under test),
// running a long-lived command; the tests then start clients inside its namespace as the
// agent's uid, or as sluice's exempt uid to prove a path works without capture.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { run, type RunOptions, type RunResult } from '../helpers/netns.ts';
import { trustVariables } from '../../src/cli/env.ts';

const sluiceBin = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

export const AGENT_UID = 4242;
export const SLUICE_UID = 1337;

export interface SandboxProcess {
  child: ChildProcess;
  /** What a terminal's Ctrl-C does: SIGINT to the foreground process group. */
  interrupt(): void;
  /** stderr and stdout of `sluice sandbox` so far (sluice's own output included). */
  output(): string;
  exited: Promise<number>;
}

/** Starts `sluice sandbox … -- command` and resolves once it runs `command`. */
export async function startSandbox(
  args: string[], command: string[], env: Record<string, string> = {}, timeoutMs = 30_000,
): Promise<SandboxProcess> {
  const child = spawn(process.execPath, [sluiceBin, 'sandbox', ...args, '--', ...command], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    // A process group of its own, like a shell job: "Ctrl-C" is a SIGINT to the whole group.
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  const deadline = Date.now() + timeoutMs;
  while (!/sluice sandbox: running /.test(output)) {
    if (child.exitCode !== null) throw new Error(`sluice sandbox exited ${child.exitCode} before running the command:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sluice sandbox did not start within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, output: () => output, exited, interrupt: () => process.kill(-(child.pid as number), 'SIGINT') };
}

export interface Pod {
  name: string;
  /** Runs a client in the pod as the agent (captured), with the trust variables set. */
  asAgent(cmd: string, args: readonly string[], opts?: RunOptions): RunResult;
  /** Runs the same as sluice's uid, which the rules exempt: "without sluice". */
  asSluice(cmd: string, args: readonly string[], opts?: RunOptions): RunResult;
  /** Runs as root in the pod (managing rules, sysctls). */
  asRoot(cmd: string, args: readonly string[], opts?: RunOptions): RunResult;
}

export function podClients(name: string, caDir: string, agentHome: string): Pod {
  const as = (uid: number) => (cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult => run('ip', [
    'netns', 'exec', name, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups',
    '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--', cmd, ...args,
  ], {
    timeoutMs: 20_000,
    ...opts,
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: agentHome,
      LANG: 'C.UTF-8',
      ...trustVariables(caDir),
      ...opts.env,
    },
  });
  return {
    name,
    asAgent: as(AGENT_UID),
    asSluice: as(SLUICE_UID),
    asRoot: (cmd, args, opts = {}) => run('ip', ['netns', 'exec', name, cmd, ...args], { timeoutMs: 20_000, ...opts }),
  };
}
