// Network namespaces for tests that need a real kernel: the iptables integration suite and the
// end-to-end suite. Everything here runs synchronously with a timeout, so a hung command fails
// the test instead of hanging the run, and every namespace made here is deleted by its owner.
import { spawnSync } from 'node:child_process';
import { commandPath, findTool, installHint, skipSuite } from './tools.ts';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

/** Runs a command; never throws (inspect `status`). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
  const result = spawnSync(commandPath(cmd), args, {
    encoding: 'utf8',
    env: opts.env ? { ...opts.env } : process.env,
    input: opts.input,
    timeout: opts.timeoutMs ?? 20_000,
    killSignal: 'SIGKILL',
  });
  const notInstalled = (result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? `: ${cmd} is not installed: ${installHint(cmd)}` : '';
  const stderr = result.error ? `${result.stderr ?? ''}${String(result.error)}${notInstalled}` : (result.stderr ?? '');
  return { status: result.status, stdout: result.stdout ?? '', stderr };
}

/** Runs a command and returns its stdout; throws with the command's stderr when it fails. */
export function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): string {
  const result = run(cmd, args, opts);
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${result.status}: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** Absolute path of a program (PATH, then the sbin folders), or undefined. */
export const which = findTool;

/**
 * Why a kernel-level suite cannot run here, or undefined when it can. Under CI a missing
 * requirement is an error, not a skip: the suite would otherwise pass by proving nothing.
 */
export function kernelSuiteSkipReason(suite: string, programs: readonly string[]): string | undefined {
  let reason: string | undefined;
  if (process.platform !== 'linux') reason = 'needs Linux (network namespaces, iptables)';
  else if (process.getuid?.() !== 0) reason = 'needs root (network namespaces, iptables): run npm test as root, or CI=true';
  else {
    const missing = programs.filter((p) => !findTool(p));
    if (missing.length > 0) reason = `needs ${missing.map(installHint).join(', ')}`;
  }
  return skipSuite(suite, reason);
}

const ipBin = () => findTool('ip') ?? 'ip';

/** A named network namespace (`ip netns`), deleted by `destroy()`. */
export class NetNs {
  readonly name: string;

  private constructor(name: string) {
    this.name = name;
  }

  /** Creates `sluice-t-<pid>-<suffix>` with its loopback up. */
  static create(suffix: string): NetNs {
    const name = `sluice-t-${process.pid}-${suffix}`;
    run(ipBin(), ['netns', 'del', name]); // a leftover from a crashed run of this same pid
    runOk(ipBin(), ['netns', 'add', name]);
    const ns = new NetNs(name);
    ns.execOk('ip', ['link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Runs a command inside the namespace. */
  exec(cmd: string, args: readonly string[], opts: RunOptions = {}): RunResult {
    return run(ipBin(), ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  execOk(cmd: string, args: readonly string[], opts: RunOptions = {}): string {
    return runOk(ipBin(), ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  destroy(): void {
    run(ipBin(), ['netns', 'del', this.name]);
  }
}
