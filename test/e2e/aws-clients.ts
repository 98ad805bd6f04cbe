// Finding the AWS command-line clients for the agent's uid. Debian's aws CLI (v2), rclone and
// s3cmd live in /usr/bin; CI has only those (an aws CLI v1 cannot be installed there: PyPI is
// not reachable). A developer machine may have another aws CLI first on PATH, often a pyenv
// install under /root, which the agent's uid cannot enter (0700): for that one command, a
// private mount namespace puts an empty /root (0755) over the real one with only the pyenv root
// bound back in at its own path, so that the interpreter and its RPATH'd libpython resolve as
// installed (a relocated copy would load Debian's libpython instead and miss its
// site-packages). It still runs as the agent, with no capabilities. Test names carry
// `aws --version`, so a report says which CLI actually ran.
import { existsSync, readFileSync } from 'node:fs';
import { run as runSync, which, type RunOptions, type RunResult } from '../helpers/netns.ts';
import { AGENT_UID } from './pod.ts';

/** `aws --version`'s first word (e.g. "aws-cli/2.9.19"), or undefined if it does not run. */
export function awsCliVersion(command: string): string | undefined {
  const r = runSync(command, ['--version'], { timeoutMs: 30_000 });
  return r.status === 0 ? /^(aws-cli\/\S+)/.exec(r.stdout.trim() || r.stderr.trim())?.[1] : undefined;
}

export interface PathAws {
  python: string;
  script: string;
  /** A folder under /root to show the agent (through `scratch`, an empty folder it may traverse). */
  reveal?: { source: string; scratch: string };
}

/** The aws CLI first on PATH if it is not Debian's /usr/bin/aws; `scratch` is an empty 0755 folder. */
export function findAwsOnPath(scratch: string): PathAws | undefined {
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

/** Runs that aws CLI in the pod as the agent, with exactly `env`. */
export function runAwsOnPath(podName: string, aws: PathAws, args: readonly string[], env: Record<string, string | undefined>, opts: RunOptions = {}): RunResult {
  const drop = ['setpriv', `--reuid=${AGENT_UID}`, `--regid=${AGENT_UID}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'];
  const reveal = 'mount --bind "$1" "$2" && mount -t tmpfs -o mode=0755,size=1m sluice-e2e /root && mkdir "$1" && mount --bind "$2" "$1" && shift 2 && exec "$@"';
  const command = aws.reveal === undefined
    ? [...drop, aws.python, aws.script, ...args]
    : ['unshare', '-m', '--propagation', 'private', 'sh', '-c', reveal, 'sh', aws.reveal.source, aws.reveal.scratch, ...drop, aws.python, aws.script, ...args];
  return runSync('ip', ['netns', 'exec', podName, ...command], { timeoutMs: 30_000, ...opts, env });
}
