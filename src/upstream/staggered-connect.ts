// Connecting to a name's checked addresses, staggered as RFC 8305 ("Happy Eyeballs v2", §5)
// does it: the next address is tried as soon as the current attempt fails, or when no attempt
// has its TCP connection ATTEMPT_DELAY_MS after the last one started, while the earlier
// attempts go on (at most MAX_ATTEMPTS_IN_FLIGHT at once); the first attempt to finish its
// connection (TLS included) wins and every other is closed. A name whose first address drops
// SYNs (an IPv6 route that goes nowhere, a dead member of a round-robin) then costs its callers
// ~250 ms, where trying one address after the other cost the whole connect timeout per dead
// address. An attempt whose TCP connection is made holds the next back until it fails, so a far
// upstream whose TLS handshake takes longer than the delay gets one handshake per connection,
// not one per address. The addresses come from the checked resolver, already in the order to
// try (families interleaved); this module only schedules the attempts.
import type { Socket } from 'node:net';
import type { ResolvedAddress } from './resolve.ts';

/** RFC 8305 §5's recommended Connection Attempt Delay, as Node's `autoSelectFamily` uses. */
export const ATTEMPT_DELAY_MS = 250;

/**
 * Attempts of one race in flight at most. A name with many dead addresses would otherwise hold
 * one socket per address for the connect timeout, for each of the pool's connections: with it,
 * a fifth attempt waits for one of the four to fail.
 */
export const MAX_ATTEMPTS_IN_FLIGHT = 4;

export type DialCallback = (err: Error | null, socket: Socket | null) => void;

/** The race's outcome: the socket that connected and the address it connected to, or the error. */
export type RaceCallback = (err: Error | null, socket: Socket | null, winner?: ResolvedAddress) => void;

/** Starts one attempt at `address`; returns its socket, to be closed if another attempt wins. */
export type Dial = (address: ResolvedAddress, callback: DialCallback) => Socket;

/** Why an attempt that lost the race was closed (seen by nobody but the dialler). */
class LostRace extends Error {
  constructor() {
    super('another address connected first');
    this.name = 'LostRace';
  }
}

/**
 * Calls `callback` once: with the first socket that connects or, when no attempt connected,
 * with the first failure that `retryable` says another address cannot mend (a certificate that
 * fails verification: no address is tried after it, though attempts already running may still
 * connect), else with the failure of the last address, as trying them one after the other did.
 */
export function connectStaggered(
  addresses: readonly ResolvedAddress[],
  dial: Dial,
  retryable: (err: Error) => boolean,
  callback: RaceCallback,
  delayMs: number = ATTEMPT_DELAY_MS,
): void {
  const live = new Set<Socket>();
  let next = 0;
  let pending = 0;
  let settled = false;
  /** The first failure another address cannot mend: no new attempt after it. */
  let fatal: Error | undefined;
  /** The failure of the latest address (in the resolver's order) that failed. */
  let latest: { index: number; err: Error } | undefined;
  let timer: NodeJS.Timeout | undefined;

  const settle = (err: Error | null, socket: Socket | null, winner?: ResolvedAddress): void => {
    settled = true;
    clearTimeout(timer);
    for (const other of live) other.destroy(new LostRace());
    live.clear();
    callback(err, socket, winner);
  };

  const failed = (index: number, err: Error): void => {
    if (!retryable(err)) {
      fatal ??= err;
      clearTimeout(timer);
    } else if (latest === undefined || index > latest.index) {
      latest = { index, err };
    }
    if (fatal === undefined && next < addresses.length) start();
    else if (pending === 0) settle(fatal ?? (latest as { err: Error }).err, null);
  };

  const start = (): void => {
    clearTimeout(timer);
    timer = undefined;
    const index = next++;
    const address = addresses[index];
    if (address === undefined || fatal !== undefined) return;
    pending++;
    // The dial may call back before it returns the socket (an error it raises at once).
    const attempt: { socket?: Socket; done: boolean } = { done: false };
    const answered: DialCallback = (err, connected) => {
      if (attempt.done) return;
      attempt.done = true;
      pending--;
      if (attempt.socket !== undefined) live.delete(attempt.socket);
      if (settled) {
        connected?.destroy();
        return;
      }
      if (err === null) settle(null, connected, address);
      else failed(index, err);
    };
    try {
      attempt.socket = dial(address, answered);
    } catch (err) {
      // A dial that throws (an attempt started by the timer would take the process down).
      answered(err instanceof Error ? err : new Error(String(err)), null);
      return;
    }
    // An attempt that answered at once has already moved the race on (settled it, or started
    // the next attempt with its own timer).
    if (attempt.done) return;
    live.add(attempt.socket);
    // Its TCP connection made, this attempt holds the next back: only its failure starts it.
    attempt.socket.once('connect', () => clearTimeout(timer));
    if (next < addresses.length && pending < MAX_ATTEMPTS_IN_FLIGHT) timer = setTimeout(start, delayMs);
  };

  if (addresses.length === 0) {
    callback(new Error('no address to connect to'), null);
    return;
  }
  start();
}

/**
 * `addresses` with `address` moved to the front, if it is one of them: the address that last
 * connected for a name is tried first (RFC 8305 §4), so a name whose first address is dead
 * costs the attempt delay once, not on every new connection.
 */
export function preferAddress(addresses: readonly ResolvedAddress[], address: string | undefined): readonly ResolvedAddress[] {
  if (address === undefined) return addresses;
  const at = addresses.findIndex((a) => a.address === address);
  if (at <= 0) return addresses;
  return [addresses[at] as ResolvedAddress, ...addresses.slice(0, at), ...addresses.slice(at + 1)];
}
