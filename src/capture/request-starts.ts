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

/** Longest stretch of request starts in one turn of the event loop. */
export const SLICE_MS = 2;

interface Start {
  run: () => void;
  onError: (err: unknown) => void;
}

const waiting: Array<Start | undefined> = [];
let head = 0;
/** When the first start of this turn ran (performance.now()); -1 when none has. */
let turnStartedAt = -1;
/** A slice of waiting starts is scheduled: new requests queue behind it. */
let draining = false;

function endOfTurn(): void {
  turnStartedAt = -1;
}

function runOne(start: Start): void {
  try {
    start.run();
  } catch (err) {
    start.onError(err);
  }
}

function runSlice(): void {
  const until = performance.now() + SLICE_MS;
  while (head < waiting.length) {
    const start = waiting[head] as Start;
    waiting[head++] = undefined;
    runOne(start);
    if (performance.now() >= until) break;
  }
  if (head < waiting.length) {
    // Under steady overload the FIFO may never empty: drop the started part now and then.
    if (head >= 1024 && head * 2 >= waiting.length) {
      waiting.splice(0, head);
      head = 0;
    }
    setImmediate(runSlice);
    return;
  }
  waiting.length = 0;
  head = 0;
  draining = false;
}

/**
 * Runs `run` now, unless this turn has already spent SLICE_MS on starts or earlier requests
 * are waiting: then after them, in a later turn. `onError` hears what `run` throws.
 */
export function startRequest(run: () => void, onError: (err: unknown) => void): void {
  if (!draining) {
    const now = performance.now();
    if (turnStartedAt < 0) {
      // The check phase comes after this turn's I/O: the turn's budget starts over then.
      turnStartedAt = now;
      setImmediate(endOfTurn);
    }
    if (now - turnStartedAt < SLICE_MS) {
      runOne({ run, onError });
      return;
    }
    draining = true;
    setImmediate(runSlice);
  }
  waiting.push({ run, onError });
}

/** Requests waiting for a later turn (tests, metrics). */
export function waitingStarts(): number {
  return waiting.length - head;
}
