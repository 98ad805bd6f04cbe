// Finding the AWS command-line clients for the agent's uid. Debian's aws CLI v2, rclone and s3cmd
// live in /usr/bin. A current aws CLI v1 is often a pyenv install under /root, which the agent's
// uid cannot enter (0700): for that one command, a private mount namespace puts an empty /root
// (0755) over the real one with only the pyenv root bound back in at its own path, so that the
// interpreter and its RPATH'd libpython resolve as installed (a relocated copy would load Debian's
// libpython instead and miss its site-packages). It still runs as the agent, with no capabilities.
import { existsSync, readFileSync } from 'node:fs';
import { run as runSync, which, type RunOptions, type RunResult } from '../helpers/netns.ts';
import { AGENT_UID } from './pod.ts';

export interface AwsV1 {
  python: string;
  script: string;
  /** A folder under /root to show the agent (through `scratch`, an empty folder it may traverse). */
  reveal?: { source: string; scratch: string };
}

/** The aws CLI v1 on PATH (not Debian's v2 in /usr/bin); `scratch` is an empty 0755 folder. */
export function findAwsV1(scratch: string): AwsV1 | undefined {
  const first = which('aws');
  if (first === undefined || first === '/usr/bin/aws' || first === '/bin/aws') return undefined;
  let script = first;
  if (readFileSync(first, 'utf8').includes('pyenv')) {
    const r = runSync('pyenv', ['which', 'aws']);
    if (r.status !== 0) return undefined;
    script = r.stdout.trim();
  }
  const python = /^#!\s*(\S+)/.exec(readFileSync(script, 'utf8'))?.[1];
  if (python === undefined || !existsSync(python)) return undefined;
  const pyenvRoot = /^(\/root\/[^/]+)\//.exec(script)?.[1];
  if (pyenvRoot === undefined || !python.startsWith(`${pyenvRoot}/`)) return { python, script };
  return { python, script, reveal: { source: pyenvRoot, scratch } };
}

/** Runs aws CLI v1 in the pod as the agent, with exactly `env`. */
export function runAwsV1(podName: string, v1: AwsV1, args: readonly string[], env: Record<string, string | undefined>, opts: RunOptions = {}): RunResult {
  const drop = ['setpriv', `--reuid=${AGENT_UID}`, `--regid=${AGENT_UID}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'];
  const reveal = 'mount --bind "$1" "$2" && mount -t tmpfs -o mode=0755,size=1m sluice-e2e /root && mkdir "$1" && mount --bind "$2" "$1" && shift 2 && exec "$@"';
  const command = v1.reveal === undefined
    ? [...drop, v1.python, v1.script, ...args]
    : ['unshare', '-m', '--propagation', 'private', 'sh', '-c', reveal, 'sh', v1.reveal.source, v1.reveal.scratch, ...drop, v1.python, v1.script, ...args];
  return runSync('ip', ['netns', 'exec', podName, ...command], { timeoutMs: 30_000, ...opts, env });
}
