// "Could CMD read or write this?" answered by the kernel itself rather than by reading mode
// bits: the question is asked as CMD's uid and gid, with no other group and no capability
// (exactly how CMD will run), so ACLs, read-only mounts and unreachable folders count as they
// will for CMD. bash's `test` asks faccessat(AT_EACCESS).
import { spawnSync } from 'node:child_process';

export type Access = 'read' | 'write' | 'enter';

export interface AccessQuestion {
  path: string;
  access: Access;
}

export interface Who {
  uid: number;
  gid: number;
}

const FLAG: Record<Access, string> = { read: '-r', write: '-w', enter: '-x' };
const SCRIPT = 'while [ $# -gt 1 ]; do if test "$1" "$2"; then echo y; else echo n; fi; shift 2; done';

/** For each question, whether the kernel lets `who` do it. Throws if it cannot ask (fail closed). */
export function kernelAllows(who: Who, questions: readonly AccessQuestion[]): boolean[] {
  if (questions.length === 0) return [];
  const args = questions.flatMap((q) => [FLAG[q.access], q.path]);
  const result = spawnSync('setpriv', [
    `--reuid=${who.uid}`, `--regid=${who.gid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
    '--no-new-privs', '--', 'bash', '-c', SCRIPT, 'bash', ...args,
  ], { encoding: 'utf8', timeout: 15_000, env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' } });
  const answers = (result.stdout ?? '').split('\n').filter(Boolean);
  if (result.status !== 0 || answers.length !== questions.length || answers.some((a) => a !== 'y' && a !== 'n')) {
    const why = (result.stderr || String(result.error ?? `exit ${result.status}`)).trim();
    throw new Error(`cannot check what uid ${who.uid} may read and write (setpriv … bash): ${why}`);
  }
  return answers.map((a) => a === 'y');
}
