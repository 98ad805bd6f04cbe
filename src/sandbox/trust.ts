// What `sluice sandbox` refuses to trust (DESIGN.md §1). CMD runs as an ordinary uid on the real
// filesystem, and sluice reloads its config whenever the file changes: a CMD that could rewrite
// the config, or swap it through any folder on its path, could add its own host to a
// credential's scope and have the real key sent there. Likewise a CMD that could read a secret
// file, the CA or mint key, or the logs (bodies of every LLM exchange), or swap the code that
// root and sluice run, would get past sluice without touching the network. So before anything
// is created, every such file and every entry on its path is checked against CMD's uid and the
// one group it keeps, and the sandbox refuses with the command that fixes each finding.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/types.ts';
import { mintKeyPath } from '../credentials/mint-key.ts';
import { secretSources } from '../credentials/secret-sources.ts';
import { CA_KEY_FILE } from '../tls/ca.ts';
import { upstreamRootsFile } from '../tls/upstream-roots.ts';
import { kernelAllows, type AccessQuestion, type Who } from './access-as.ts';
import { changeableEntries } from './code-tree.ts';
import { walkPath, type PathStep } from './path-walk.ts';

export interface TrustProblem {
  /** The file or folder at fault, and what it is to sluice ("the config", "a folder on …"). */
  path: string;
  what: string;
  /** Who could do what: "uid 4242 owns it", "CMD can write it". */
  why: string;
  /** A command that puts it right. */
  fix: string;
}

/** Something sluice depends on, and what CMD must not do to it. */
export interface Guarded {
  path: string;
  what: string;
  /** CMD must not read it either (secrets, keys, logs), not only not change it. */
  secret: boolean;
  /** The command that makes it safe (owner and mode). */
  fix: string;
}

export interface TrustInputs {
  configFile: string;
  config: Config;
  /** Code that root or sluice runs: the init script and its templates, sluice's entry point, node. */
  code: string[];
}

const STICKY = 0o1000;

/** Everything `sluice sandbox` depends on, with the owner and mode that make it safe. */
export function guardedPaths({ configFile, config, code }: TrustInputs): Guarded[] {
  const sluice = `${config.proxy.uid}:${config.proxy.uid}`;
  const rootFile = (path: string): string => `chown root:root ${path} && chmod 644 ${path}`;
  const sluiceOnly = (path: string, mode: string): string => `chown ${sluice} ${path} && chmod ${mode} ${path}`;
  const { caDir, logDir, extraUpstreamCa } = config.proxy;
  const guarded: Guarded[] = [
    { path: configFile, what: 'the config', secret: false, fix: rootFile(configFile) },
    { path: caDir, what: 'the CA folder', secret: false, fix: sluiceOnly(caDir, '755') },
    { path: join(caDir, CA_KEY_FILE), what: 'the CA key', secret: true, fix: sluiceOnly(join(caDir, CA_KEY_FILE), '600') },
    { path: mintKeyPath(caDir), what: 'the mint key', secret: true, fix: sluiceOnly(mintKeyPath(caDir), '600') },
    { path: logDir, what: 'the log folder', secret: true, fix: sluiceOnly(logDir, '700') },
  ];
  if (extraUpstreamCa) guarded.push({ path: extraUpstreamCa, what: 'the extra upstream CA', secret: false, fix: rootFile(extraUpstreamCa) });
  // The roots upstream certificates are verified against, where they come from one file: CMD
  // must not add a root of its own there (a folder-based store is left to the system's owner).
  const rootsFile = upstreamRootsFile()?.source;
  if (rootsFile !== undefined) guarded.push({ path: rootsFile, what: 'the system roots upstream certificates are verified against', secret: false, fix: rootFile(rootsFile) });
  for (const entry of secretSources(config)) {
    if (entry.source.kind !== 'file') continue;
    const path = entry.source.path;
    guarded.push({ path, what: `the secret of ${entry.key}`, secret: true, fix: sluiceOnly(path, '600') });
  }
  for (const path of code) guarded.push({ path, what: 'code run by root or sluice', secret: false, fix: `chown root:root ${path} && chmod go-w ${path}` });
  for (const file of filesIn(logDir)) {
    guarded.push({ path: file, what: 'a log file', secret: true, fix: sluiceOnly(logDir, '700') });
  }
  return guarded;
}

/** What CMD (`who`) could do to what sluice depends on; empty when nothing. */
export function trustProblems(who: Who, guarded: readonly Guarded[]): TrustProblem[] {
  const problems = new Map<string, TrustProblem>();
  const add = (p: TrustProblem): void => {
    if (!problems.has(`${p.path}\0${p.why}`)) problems.set(`${p.path}\0${p.why}`, p);
  };
  // Ownership is read from the entries; reading and writing are asked of the kernel, in one go.
  const questions: AccessQuestion[] = [];
  const onAnswer: ((allowed: boolean) => void)[] = [];
  const ask = (question: AccessQuestion, then: (allowed: boolean) => void): void => {
    questions.push(question);
    onAnswer.push(then);
  };

  for (const item of guarded) {
    const { steps, exists } = walkPath(item.path);
    for (const step of steps) {
      const isEnd = exists && step === steps[steps.length - 1];
      const what = isEnd ? item.what : `a folder on the path to ${item.what}`;
      const label = isEnd ? item.path : step.path;
      if (step.stat.uid === who.uid) {
        const chown = step.kind === 'link' ? `chown -h root:root ${step.path}` : `chown root:root ${step.path}`;
        add({ path: label, what: step.kind === 'link' ? `a link on the path to ${item.what}` : what,
          why: `uid ${who.uid} owns it, so CMD could change its mode and then it`, fix: isEnd ? item.fix : chown });
      }
      if (step.kind === 'folder' && !isEnd) {
        // A folder CMD can write lets it rename what is inside, unless the folder is sticky
        // (as /tmp): then only entries CMD owns, and ownership is checked above.
        ask({ path: step.path, access: 'write' }, (allowed) => {
          if (allowed && (step.stat.mode & STICKY) === 0) {
            add({ path: step.path, what, why: `CMD can write it (${describe(step)}), so it can replace what is inside`,
              fix: `chmod go-w ${step.path}` });
          }
        });
      }
    }
    if (!exists) continue;
    const end = steps[steps.length - 1] as PathStep;
    ask({ path: item.path, access: 'write' }, (allowed) => {
      if (allowed) add({ path: item.path, what: item.what, why: `CMD can write it (${describe(end)})`, fix: item.fix });
    });
    if (item.secret && !end.stat.isDirectory()) {
      ask({ path: item.path, access: 'read' }, (allowed) => {
        if (allowed) add({ path: item.path, what: item.what, why: `CMD can read it (${describe(end)})`, fix: item.fix });
      });
    } else if (item.secret) {
      // Files sluice writes later count too, and whether CMD could read those depends on more than
      // their mode (a setgid folder, a default ACL): CMD must not get into the folder at all.
      ask({ path: item.path, access: 'enter' }, (allowed) => {
        if (allowed) {
          add({ path: item.path, what: item.what, why: `CMD can enter it (${describe(end)}), so the logs sluice writes there could be within its reach`,
            fix: item.fix });
        }
      });
    }
  }
  kernelAllows(who, questions).forEach((allowed, i) => onAnswer[i]?.(allowed));
  return [...problems.values()];
}

/** Entries of sluice's package (the code it and root run) that CMD owns or may write. */
export function packageProblems(who: Who, packageDir: string): TrustProblem[] {
  const roots = ['bin', 'src', 'iptables', 'node_modules', 'package.json'].map((p) => join(packageDir, p));
  return changeableEntries(who, roots).map((path) => ({
    path, what: 'code run by root or sluice', why: 'CMD owns it or may write it',
    fix: `chown -R root:root ${packageDir} && chmod -R go-w ${packageDir}`,
  }));
}

/** The refusal: who CMD would be, each finding with its fix. */
export function describeTrustProblems(who: Who, problems: readonly TrustProblem[]): string {
  const lines = problems.map((p) => `  - ${p.path} (${p.what}): ${p.why}.\n    Fix: ${p.fix}`);
  return [
    `refusing to start: CMD would run as uid ${who.uid}, gid ${who.gid} (no other groups), and could change what sluice`,
    'trusts or read what it guards:',
    ...lines,
    'Then run sluice sandbox again.',
  ].join('\n');
}

/** Who CMD may not be at all, whatever the files: undefined when `who` is fine. */
export function refuseIdentity(who: Who, sluiceUid: number): string | undefined {
  if (who.uid === 0) {
    return 'refusing to start: CMD would run as uid 0. Root without capabilities still owns / and every root-owned '
      + 'file, so it could change their modes and rewrite sluice\'s config, keys and code. Run it as an ordinary user: '
      + '--user USER (under sudo the default is the user who ran sudo)';
  }
  if (who.gid === sluiceGid(sluiceUid)) {
    return `refusing to start: CMD would run with gid ${who.gid}, sluice's own group, which may read the logs sluice `
      + 'writes (0640). Give CMD a group of its own: --user USER:GID';
  }
  return undefined;
}

/** sluice runs as its uid with the group of the same number (src/cli/sandbox.ts). */
function sluiceGid(sluiceUid: number): number {
  return sluiceUid;
}

function describe(step: PathStep): string {
  const m = step.stat.mode;
  const type = step.stat.isDirectory() ? 'd' : step.stat.isSymbolicLink() ? 'l' : '-';
  const bits = ['r', 'w', 'x', 'r', 'w', 'x', 'r', 'w', 'x'].map((c, i) => ((m >> (8 - i)) & 1 ? c : '-')).join('');
  const sticky = m & STICKY ? ' sticky' : '';
  return `${type}${bits}${sticky}, owner ${step.stat.uid}, group ${step.stat.gid}`;
}

/** Regular files directly in `dir` (the logs); none when it does not exist yet. */
function filesIn(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}
