// A FIFO of tasks run off the current call stack in slices of at most `sliceMs`, one slice per
// turn of the event loop (setImmediate: after the turn's I/O), so that a pile of work never
// holds the loop longer than a slice. Shared by the LLM log's own work (audit/llm/log-work.ts)
// and the start of requests that arrive together (capture/request-starts.ts).

export interface SliceTask {
  run: () => void;
  /** Hears what `run` throws; the queue goes on. */
  onError: (err: unknown) => void;
}

export interface SliceQueue {
  /** Queues a task behind the others; a slice runs in a later turn. */
  push(task: SliceTask): void;
  /** Runs everything queued, now, in order; does nothing when called from a task of this queue. */
  runAll(): void;
  /** Tasks waiting. */
  readonly size: number;
}

export function createSliceQueue(sliceMs: number): SliceQueue {
  const queue: Array<SliceTask | undefined> = [];
  let head = 0;
  let scheduled = false;
  /** A task is running (runAll from inside one would reorder the queue). */
  let running = false;

  const runNext = (): void => {
    const task = queue[head] as SliceTask;
    queue[head++] = undefined;
    running = true;
    try {
      task.run();
    } catch (err) {
      task.onError(err);
    } finally {
      running = false;
    }
  };

  const runSlice = (): void => {
    const until = performance.now() + sliceMs;
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
  };

  return {
    push(task) {
      queue.push(task);
      if (!scheduled) {
        scheduled = true;
        setImmediate(runSlice);
      }
    },
    runAll() {
      if (running) return;
      while (head < queue.length) runNext();
      queue.length = 0;
      head = 0;
    },
    get size() {
      return queue.length - head;
    },
  };
}
