// Requests that arrive together are started in slices of at most SLICE_MS per turn of the event
// loop. Node parses every request whose bytes came in the same poll of the sockets in one turn;
// starting each there too (building its exchange, running the steps, dialling upstream) held
// the loop for all of them at once: 100 agents' streaming calls that began in the same instant
// (bench/llm-stream.ts) kept every other stream's events, DNS answers and health checks
// waiting, where a bare Node forwarder, which does less per request, did not (issue 14's lag
// bar). Past the slice, a request waits in a FIFO for the next turn, after the I/O that came
// in meanwhile; a request that finds the turn not yet busy starts at once, as before.
//
// One FIFO for the process, in arrival order. It holds at most the requests in flight, which
// the listeners' own limits bound (connections, h2 streams per session, rapid-reset guard).
// A request whose client leaves while it waits is started anyway: the step that would dial
// upstream sees the closed response and logs it client_aborted (request-handler.ts).

import { createSliceQueue, type SliceTask } from '../runtime/slice-queue.ts';

/** Longest stretch of request starts in one turn of the event loop. */
export const SLICE_MS = 2;

const waiting = createSliceQueue(SLICE_MS);
/** When the first start of this turn ran (performance.now()); -1 when none has. */
let turnStartedAt = -1;

function endOfTurn(): void {
  turnStartedAt = -1;
}

function runNow(start: SliceTask): void {
  try {
    start.run();
  } catch (err) {
    start.onError(err);
  }
}

/**
 * Runs `run` now, unless this turn has already spent SLICE_MS on starts or earlier requests
 * are waiting: then after them, in a later turn. `onError` hears what `run` throws.
 */
export function startRequest(run: () => void, onError: (err: unknown) => void): void {
  if (waiting.size === 0) {
    const now = performance.now();
    if (turnStartedAt < 0) {
      // The check phase comes after this turn's I/O: the turn's budget starts over then.
      turnStartedAt = now;
      setImmediate(endOfTurn);
    }
    if (now - turnStartedAt < SLICE_MS) {
      runNow({ run, onError });
      return;
    }
  }
  waiting.push({ run, onError });
}

/** Requests waiting for a later turn (tests). */
export function waitingStarts(): number {
  return waiting.size;
}
