// The LLM log's own work — parsing the copied stream and building, redacting and writing each
// exchange's line — runs off the agent's path in slices of at most SLICE_MS, yielding to I/O
// between slices. Streams tend to end together (one client's calls in lockstep, a fan-out of
// agents): 100 streaming calls that ended in the same instant built their 100 lines in one
// go and held the event loop 13–39 ms, every other agent's bytes waiting behind them, where a
// bare Node forwarder lagged 5–11 ms (bench/llm-stream.ts; issue 14's bar is 10 ms).
//
// One FIFO for the whole process: what one exchange queues runs in the order it was queued
// (its chunks before its end), and exchanges take turns. An exchange has at most two tasks
// waiting (one for the chunks copied since its last turn, one for its end:
// steps/llm-audit/exchange-recorder.ts), so the queue is bounded by the exchanges in flight;
// every turn of the event loop gives it at least one slice.

/** Longest stretch of log work between two turns of the event loop. */
export const SLICE_MS = 2;

interface Task {
  run: () => void;
  onError: (err: unknown) => void;
}

const queue: Array<Task | undefined> = [];
let head = 0;
let scheduled = false;
/** A task is running (work queued from inside one waits for its turn). */
let running = false;

/** Queues `run` behind the log work already waiting; `onError` hears what it throws. */
export function deferLogWork(run: () => void, onError: (err: unknown) => void): void {
  queue.push({ run, onError });
  if (!scheduled) {
    scheduled = true;
    setImmediate(runSlice);
  }
}

function runNext(): void {
  const task = queue[head] as Task;
  queue[head++] = undefined;
  running = true;
  try {
    task.run();
  } catch (err) {
    task.onError(err);
  } finally {
    running = false;
  }
}

/**
 * Runs everything queued, now, in order. For readers of what exchanges' ends record (the
 * budget: an agent's next call must be checked against the usage of the one that just ended).
 * Does nothing when called from log work itself.
 */
export function runLogWorkNow(): void {
  if (running) return;
  while (head < queue.length) runNext();
  queue.length = 0;
  head = 0;
}

function runSlice(): void {
  const until = performance.now() + SLICE_MS;
  while (head < queue.length) {
    runNext();
    if (performance.now() >= until) break;
  }
  if (head < queue.length) {
    // Under steady load the queue may never empty: drop the finished part now and then.
    if (head >= 1024 && head * 2 >= queue.length) {
      queue.splice(0, head);
      head = 0;
    }
    setImmediate(runSlice);
    return;
  }
  queue.length = 0;
  head = 0;
  scheduled = false;
}

/** Tasks waiting (tests). */
export function pendingLogWork(): number {
  return queue.length - head;
}
