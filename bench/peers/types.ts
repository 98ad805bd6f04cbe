// What the runner needs from each peer: start it inside the client namespace as its own uid,
// pinned to the peer core, and tell where the capture should send traffic.
import type { BenchPki } from '../pki.ts';

export interface PeerContext {
  /** A fresh folder for this peer's config, state and logs. */
  dir: string;
  pki: BenchPki;
  /** CPU list the peer is pinned to. */
  cpu: string;
  /** Repository root (for sluice's bin). */
  repoRoot: string;
}

export interface RunningPeer {
  /** The peer's top process (its tree is what memory figures sum); undefined for direct. */
  pid: number | undefined;
  /** Capture target; undefined for direct (no redirect at all). */
  capture: { uid: number; httpsPort: number; httpPort: number } | undefined;
  /** CA whose certificates the client sees through this peer (the probe verifies with it). */
  clientCaFile: string;
  /** Settings worth printing with the results. */
  notes: string[];
  /** False once the peer's process has exited (direct is always alive). */
  alive(): boolean;
  /** "exit 1" / "signal SIGKILL" once it has exited. */
  exitStatus(): string;
  output(): string;
  /** Milliseconds from spawning the peer until it said it was listening, when it says so. */
  readyMs?(): number | undefined;
  stop(): Promise<void>;
}

export interface Peer {
  name: string;
  /** The only tests run for this peer (run.ts's step names); all of them when absent. */
  steps?: readonly string[];
  start(ctx: PeerContext): Promise<RunningPeer>;
}

/** Thrown by a peer that cannot run here (missing binary, unfinished code). */
export class PeerUnavailable extends Error {
  override name = 'PeerUnavailable';
}
