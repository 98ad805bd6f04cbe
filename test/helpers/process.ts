// Runs a real client or server binary for a test, bounded in time.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { commandPath, installHint } from './tools.ts';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after timeoutMs) and returns its output. */
export function run(cmd: string, args: string[], options: SpawnOptions & { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(commandPath(cmd), args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(notInstalled(cmd, err));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

// Daemons still running when the test worker exits (an afterAll that timed out, an uncaught
// error) are killed with it rather than left behind holding ports. A worker killed outright
// (SIGKILL) still orphans them.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts a long-running process; resolves once `ready` returns true for its output so far. */
export async function startDaemon(
  cmd: string,
  args: string[],
  ready: (output: string) => boolean,
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<{ child: ChildProcess; output: () => string; stop: () => Promise<void> }> {
  const path = commandPath(cmd);
  if (!path.includes('/')) throw new Error(`${cmd} is not installed: ${installHint(cmd)}`);
  const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  // A spawn failure after readiness was declared must not crash the worker: it shows in output.
  child.on('error', (err) => (output += `\n${notInstalled(cmd, err).message}\n`));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      settle(new Error(`${cmd} did not become ready within ${options.timeoutMs ?? 15_000} ms:\n${output}`));
    }, options.timeoutMs ?? 15_000);
    // Every way out clears the timer and the listeners: a readiness timer left running would
    // SIGTERM a healthy daemon later in the suite.
    const settle = (err?: Error): void => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      child.off('exit', onExit);
      child.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const check = (): void => {
      if (ready(output)) settle();
    };
    const onExit = (code: number | null): void => settle(new Error(`${cmd} exited with ${code} before it was ready:\n${output}`));
    const onError = (err: Error): void => settle(notInstalled(cmd, err));
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', onExit);
    child.once('error', onError);
    if (ready('')) settle();
  });
  return { child, output: () => output, stop };
}

/** A spawn failure; ENOENT names the package that installs the program. */
function notInstalled(cmd: string, err: Error): Error {
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return err;
  return new Error(`${cmd} is not installed: ${installHint(cmd)}`, { cause: err });
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
