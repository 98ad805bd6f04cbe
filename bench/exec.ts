// Child-process helpers for the bench: bounded one-shot commands, long-running processes
// started in their own process group (so teardown can end the whole tree by its id), and the
// command prefix that runs something inside a namespace, as a given uid, on a given core.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Hard bound: the command's process group is killed after this. */
  timeoutMs?: number;
  /** Do not throw on a non-zero exit (the caller inspects `code`). */
  allowFail?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to the command's stdin. */
  input?: string;
}

/** Runs a command to completion, bounded in time; throws with its stderr on failure. */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('run: empty command');
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const stdin = options.input === undefined ? 'ignore' : 'pipe';
    const child = spawn(cmd, args, { stdio: [stdin, 'pipe', 'pipe'], detached: true, env: options.env ?? process.env, cwd: options.cwd });
    if (options.input !== undefined) child.stdin?.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${argv.join(' ')}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code, stdout, stderr };
      if ((code !== 0 || signal !== null) && options.allowFail !== true) {
        const why = signal !== null ? `signal ${signal}` : `exit ${code}`;
        reject(new Error(`${argv.join(' ')}: ${why}\n${stderr.trim()}`));
      } else {
        resolve(result);
      }
    });
  });
}

/** Sends a signal to a child's whole process group (it was spawned detached). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

export interface LongProcess {
  child: ChildProcess;
  pid: number;
  /** Everything it wrote, for error messages. */
  output(): string;
  exited: Promise<void>;
  /** SIGTERM its process group, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a long-running process in its own process group, collecting its output. */
export function start(argv: readonly string[], env: NodeJS.ProcessEnv, stdin: 'ignore' | 'pipe' = 'ignore'): LongProcess {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('start: empty command');
  const child = spawn(cmd, args, { stdio: [stdin, 'pipe', 'pipe'], detached: true, env });
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  let out = '';
  const keep = (d: string): void => {
    out += d;
    if (out.length > 64_000) out = out.slice(-32_000);
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const pid = child.pid;
  return {
    child,
    pid,
    output: () => out,
    exited,
    async stop(graceMs = 3000) {
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface NsExecOptions {
  /** Run as this uid (and gid), no supplementary groups. Omit to stay root. */
  uid?: number;
  /** Pin to this CPU list (taskset -c). */
  cpu?: string;
}

/**
 * Prefix that runs argv inside network namespace `ns` (ip netns exec also bind-mounts
 * /etc/netns/<ns>/* over /etc, which is how origin.bench.test resolves), with the highest
 * descriptor limit allowed, optionally as another uid and pinned to a core. Each tool execs the next,
 * so the spawned pid is the pid of the final program.
 */
export function nsExec(ns: string, options: NsExecOptions, argv: readonly string[]): string[] {
  // Raise the soft descriptor limit to the hard one (we may not raise the hard limit itself).
  const prefix = ['ip', 'netns', 'exec', ns, 'sh', '-c', 'ulimit -n "$(ulimit -Hn)" && exec "$@"', 'sh'];
  if (options.uid !== undefined) {
    prefix.push('setpriv', `--reuid=${options.uid}`, `--regid=${options.uid}`, '--clear-groups', '--');
  }
  if (options.cpu !== undefined) prefix.push('taskset', '-c', options.cpu);
  return [...prefix, ...argv];
}

/** A minimal environment for tools we start (no proxies or secrets inherited from ours). */
export function cleanEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: home, LANG: 'C.UTF-8', ...extra };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads JSON lines from a child's stdout, one per call. */
export function jsonLineReader(stream: NodeJS.ReadableStream): () => Promise<unknown> {
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    partial += d;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      const waiter = waiters.shift();
      if (waiter !== undefined) waiter(line);
      else lines.push(line);
    }
  });
  return () => {
    const line = lines.shift();
    if (line !== undefined) return Promise.resolve(JSON.parse(line));
    return new Promise((resolve) => waiters.push((l) => resolve(JSON.parse(l))));
  };
}

/** Rejects with `what` if `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref()),
  ]);
}
