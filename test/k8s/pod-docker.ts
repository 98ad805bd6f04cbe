// The Docker client as the pod runner uses it: one resolved binary, environment values passed
// through the client's own environment, and the label that finds every container a run made
// (and what a killed run left behind).
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../helpers/process.ts';
import { unmountVolumes } from './pod-volumes.ts';

/** The label every container the runner creates carries; its value is the run's pod id. */
export const POD_LABEL = 'dev.sluice.test.k8s-pod';
/** Each pod's host folder (volumes, resolv.conf) is a temporary folder with this prefix. */
export const POD_DIR_PREFIX = 'sluice-pod-';

let dockerPath = '';
/** The docker binary's path (resolved once: a pod's PATH variable must not pick another). */
export async function docker(): Promise<string> {
  if (dockerPath === '') {
    const found = await run('sh', ['-c', 'command -v docker'], { timeoutMs: 5_000 });
    dockerPath = found.stdout.trim() || 'docker';
  }
  return dockerPath;
}

export async function mustDocker(args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<string> {
  const result = await run(await docker(), args, {
    timeoutMs: options.timeoutMs ?? 60_000,
    // The client reads `-e NAME` values from its own environment: nothing secret on a command line.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...options.env },
  });
  if (result.code !== 0) throw new Error(`docker ${args.slice(0, 2).join(' ')}… exited ${result.code}: ${result.stderr.trim().slice(-2000)}`);
  return result.stdout.trim();
}

/** Every container and temp folder a runner made with this id, or all runs' when id is omitted. */
export async function leftovers(id?: string): Promise<string[]> {
  const filter = id === undefined ? POD_LABEL : `${POD_LABEL}=${id}`;
  const out = await mustDocker(['ps', '-aq', '--filter', `label=${filter}`]);
  return out.split('\n').filter(Boolean);
}

/**
 * Removes whatever an earlier, killed run left behind: its containers, and the tmpfs mounts of
 * its pod folders wherever TMPDIR pointed then (the folders themselves go with their run's
 * TMPDIR). One pod-run suite per machine: the suite's network name is fixed too.
 */
export async function removeLeftovers(): Promise<void> {
  const ids = await leftovers();
  if (ids.length > 0) await mustDocker(['rm', '-f', '-v', ...ids], { timeoutMs: 120_000 });
  const podDirs = new Set(readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '')
    .map((m) => /^(.*\/sluice-pod-[^/]+)\//.exec(m)?.[1]).filter((d): d is string => d !== undefined));
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(POD_DIR_PREFIX))) podDirs.add(join(tmpdir(), name));
  for (const podDir of podDirs) {
    const errors = unmountVolumes(podDir);
    if (errors.length > 0) throw new Error(errors.join('; '));
    rmSync(podDir, { recursive: true, force: true });
  }
}

