// Shared start-up for proxy peers: own the peer's folder, start it in the client namespace as
// its uid on its core, and wrap it as a RunningPeer.
import { chown, lchown, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanEnv, nsExec, run, start } from '../exec.ts';
import { CLIENT_NS } from '../netns.ts';
import type { RunningPeer } from './types.ts';

/** chown -R dir to uid (the peer writes its state there and nowhere else). */
export async function giveTo(dir: string, uid: number): Promise<void> {
  await chown(dir, uid, uid);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await giveTo(path, uid);
    // A link's own owner: chown would follow it (into the repository's node_modules).
    else if (entry.isSymbolicLink()) await lchown(path, uid, uid);
    else await chown(path, uid, uid);
  }
}

/**
 * Fills a Node peer's compile cache before its measured start, as sluice's image does at build
 * time: `argv` (a floor server given `--compile-only`) loads every module the server imports,
 * as the peer's uid, and exits. Without it, a Node peer run from TypeScript loads Node's type
 * stripper at start: +17-20 MiB of RSS and ~0.1 s that sluice, started from a filled cache, does
 * not pay, so the floor's memory figures would not be comparable with sluice's.
 * Returns the environment that points the measured start at the filled cache.
 */
export async function fillCompileCache(argv: readonly string[], uid: number, home: string, cacheDir: string): Promise<Record<string, string>> {
  const env = { NODE_COMPILE_CACHE: cacheDir };
  await run(nsExec(CLIENT_NS, { uid }, [...argv, '--compile-only']), { env: cleanEnv(home, env), timeoutMs: 30_000 });
  return env;
}

export interface PeerProcessSpec {
  argv: string[];
  uid: number;
  cpu: string;
  home: string;
  env?: Record<string, string>;
  capture: { httpsPort: number; httpPort: number };
  clientCaFile: string;
  notes: string[];
  /** Text the peer prints once every listener is up (start-to-ready is timed to it). */
  readyLine?: string;
}

export function startPeerProcess(spec: PeerProcessSpec): RunningPeer {
  const spawnedAt = performance.now();
  const proc = start(nsExec(CLIENT_NS, { uid: spec.uid, cpu: spec.cpu }, spec.argv), cleanEnv(spec.home, spec.env));
  let readyAt: number | undefined;
  const readyLine = spec.readyLine;
  if (readyLine !== undefined) {
    let seen = '';
    const watch = (d: string): void => {
      seen = (seen + d).slice(-4096);
      if (seen.includes(readyLine)) {
        readyAt = performance.now();
        proc.child.stderr?.off('data', watch);
      }
    };
    proc.child.stderr?.on('data', watch);
  }
  return {
    pid: proc.pid,
    capture: { uid: spec.uid, ...spec.capture },
    clientCaFile: spec.clientCaFile,
    notes: spec.notes,
    alive: () => proc.child.exitCode === null && proc.child.signalCode === null,
    exitStatus: () => (proc.child.signalCode !== null ? `signal ${proc.child.signalCode}` : proc.child.exitCode !== null ? `exit ${proc.child.exitCode}` : 'running'),
    output: () => proc.output(),
    readyMs: () => (readyAt === undefined ? undefined : readyAt - spawnedAt),
    stop: () => proc.stop(5000),
  };
}
