// Starting processes inside the sandbox namespace as a given uid, with no capabilities: sluice
// itself (as its exempt uid) and the user's command. `ip netns exec` enters the namespace (and
// bind-mounts /etc/netns/NAME over /etc); setpriv changes identity and drops every
// supplementary group and every capability, so neither can touch the capture rules.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';

export interface Identity {
  uid: number;
  gid: number;
  /** From /etc/passwd when the uid has an entry. */
  name: string | undefined;
  home: string | undefined;
}

/** "alice", "1000", "1000:1000" or "alice:1000" → uid, gid and passwd entry. */
export function resolveIdentity(spec: string): Identity {
  const [who = '', group] = spec.split(':');
  const entries = readPasswd();
  const entry = /^\d+$/.test(who) ? entries.find((e) => e.uid === Number(who)) : entries.find((e) => e.name === who);
  if (!entry && !/^\d+$/.test(who)) throw new Error(`--user ${spec}: no such user`);
  const uid = entry?.uid ?? Number(who);
  let gid = entry?.gid ?? uid;
  if (group !== undefined) {
    if (!/^\d+$/.test(group)) throw new Error(`--user ${spec}: the group must be numeric`);
    gid = Number(group);
  }
  return { uid, gid, name: entry?.name, home: entry?.home };
}

function readPasswd(): { name: string; uid: number; gid: number; home: string }[] {
  try {
    return readFileSync('/etc/passwd', 'utf8').split('\n').flatMap((line) => {
      const [name, , uid, gid, , home] = line.split(':');
      if (!name || uid === undefined || gid === undefined || home === undefined) return [];
      return [{ name, uid: Number(uid), gid: Number(gid), home }];
    });
  } catch {
    return [];
  }
}

export interface SpawnInSandboxOptions {
  netns: string;
  identity: Identity;
  command: string[];
  env: NodeJS.ProcessEnv;
  stdio: StdioOptions;
  /** Own process group: a terminal's Ctrl-C does not reach it directly. */
  detached: boolean;
}

export function spawnInSandbox(opts: SpawnInSandboxOptions): ChildProcess {
  const { uid, gid } = opts.identity;
  // No supplementary group, ever: the user's groups (docker, adm, disk…) would reach far beyond
  // the sandbox, and `sluice sandbox` checked its files against this uid and gid alone.
  const setpriv = [
    'setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups',
    '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--',
  ];
  // `ip netns exec` and setpriv both exec, so the child's pid is the command's own pid.
  return spawn('ip', ['netns', 'exec', opts.netns, ...setpriv, ...opts.command], {
    env: opts.env,
    stdio: opts.stdio,
    detached: opts.detached,
  });
}

/** Resolves with the exit status in shell convention (128 + signal number when killed). */
export function exitCodeOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('error', () => resolve(127));
    child.once('exit', (code, signal) => {
      if (code !== null) resolve(code);
      else resolve(128 + (signal ? signalNumber(signal) : 0));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0;
}
