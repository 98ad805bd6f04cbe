// Every command `sluice --help` lists answers `--help` (and -h) with its own usage on stdout and
// exit 0, without starting anything: a command added later is held to this too. And an older
// Node, which cannot load sluice's .ts sources, gets one line saying what to do instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

function sluice(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  // From an empty folder: --help must not need (or read) a sluice.toml.
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000, cwd: '/' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const listed = sluice('--help').stdout.split('\n')
  .map((line) => /^ {2}([a-z][a-z-]*)\b/.exec(line)?.[1])
  .filter((name): name is string => name !== undefined && name !== 'version');

describe('sluice COMMAND --help', () => {
  it('lists the commands', () => {
    expect(listed).toEqual(expect.arrayContaining(['run', 'check', 'ca', 'env', 'healthcheck', 'logs', 'mint', 'sandbox']));
  });

  it.each(listed)('%s --help prints its usage and exits 0', (name) => {
    const r = sluice(name, '--help');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage:[^]*sluice ${name}\\b`));
  });

  it('-h is --help', () => {
    expect(sluice('run', '-h')).toEqual(sluice('run', '--help'));
  });

  it('sandbox passes --help after -- to the command it runs, not to itself', () => {
    const r = sluice('sandbox', '--', 'true', '--help');
    expect(r.stdout).not.toMatch(/^usage:/);
  });
});

describe('bin/sluice.js on a Node older than 24', () => {
  const expected = /^sluice needs Node ≥ 24 \(you have 20\.[0-9.]+\): use `npx sluice …` or `npm start`/;

  it('says which Node it needs and how to get it, and exits 1', () => {
    // Node 24 posing as 20: the check must come before anything else runs.
    const r = spawnSync(process.execPath, ['--import', 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.1.0"})', BIN, 'check'], { encoding: 'utf8', timeout: 20_000, cwd: '/' });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(expected);
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.status).toBe(1);
    // Debian's own Node (20 on bookworm), when it is older: the same line, not ERR_UNKNOWN_FILE_EXTENSION.
    const system = '/usr/bin/node';
    const version = existsSync(system) ? spawnSync(system, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim() : '';
    if (version.startsWith('20.')) {
      const old = spawnSync(system, [BIN, 'check'], { encoding: 'utf8', timeout: 20_000, cwd: '/' });
      expect(old.stderr).toMatch(expected);
      expect(old.status).toBe(1);
    }
  });
});
