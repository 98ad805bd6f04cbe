// An append-only file that rotates by size and knows when it cannot be written. Lines are
// queued and written asynchronously, one write in flight at a time, so the event loop never
// waits on the disk. When a write fails (full disk, unwritable folder, file removed), the file
// reports the problem, keeps the unwritten bytes (bounded) and retries them every
// `retryMs`; the first write that succeeds clears the problem. Rotation renames
// NAME → NAME.1 → … → NAME.keep (the oldest falls off) between writes.
import fs from 'node:fs';
import { dirname } from 'node:path';

export interface RotatingFileOptions {
  maxBytes: number;
  keep: number;
  /** Retry interval while the file cannot be written. */
  retryMs?: number;
  /** Unwritten bytes kept for retry; lines beyond are dropped (and counted). */
  maxPendingBytes?: number;
  /** Called when the file becomes unwritable (with why) and when it recovers (undefined). */
  onProblem?: (problem: string | undefined) => void;
}

const DEFAULT_RETRY_MS = 2_000;
const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code !== undefined ? `${e.code} (${e.syscall ?? 'io'})` : String(e.message ?? err);
}

export class RotatingFile {
  readonly path: string;
  readonly #options: Required<Omit<RotatingFileOptions, 'onProblem'>> & Pick<RotatingFileOptions, 'onProblem'>;
  #fd: number | undefined;
  #size = 0;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #writing = false;
  #problem: string | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;
  #drainWaiters: (() => void)[] = [];
  /** Lines dropped because the pending buffer was full while the file could not be written. */
  dropped = 0;

  constructor(path: string, options: RotatingFileOptions) {
    this.path = path;
    this.#options = {
      maxBytes: options.maxBytes,
      keep: options.keep,
      retryMs: options.retryMs ?? DEFAULT_RETRY_MS,
      maxPendingBytes: options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES,
      onProblem: options.onProblem,
    };
    this.#open();
  }

  /** Why the file cannot be written now, or undefined when it can. */
  get problem(): string | undefined {
    return this.#problem;
  }

  write(line: string): void {
    if (this.#closed) return;
    const bytes = Buffer.from(line, 'utf8');
    if (this.#queuedBytes + bytes.length > this.#options.maxPendingBytes) {
      this.dropped++;
      return;
    }
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
    this.#pump();
  }

  /** Resolves when everything queued so far is on disk, or after `timeoutMs` if it cannot be. */
  async drain(timeoutMs: number): Promise<void> {
    if (!this.#writing && this.#queuedBytes === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.#drainWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.#closed = true;
    if (this.#retry !== undefined) clearInterval(this.#retry);
    this.#retry = undefined;
    if (!this.#writing) this.#closeFd();
  }

  #closeFd(): void {
    if (this.#fd === undefined) return;
    try {
      fs.closeSync(this.#fd);
    } catch {
      // Already unusable: nothing to release.
    }
    this.#fd = undefined;
  }

  #open(): boolean {
    try {
      fs.mkdirSync(dirname(this.path), { recursive: true });
      const fd = fs.openSync(this.path, 'a', 0o640);
      this.#fd = fd;
      this.#size = fs.fstatSync(fd).size;
      return true;
    } catch (err) {
      this.#fail(err);
      return false;
    }
  }

  #fail(err: unknown): void {
    const problem = `cannot write ${this.path}: ${describe(err)}`;
    const changed = this.#problem !== problem;
    this.#problem = problem;
    if (this.#retry === undefined && !this.#closed) {
      this.#retry = setInterval(() => this.#tryRecover(), this.#options.retryMs);
      this.#retry.unref();
    }
    if (changed) this.#options.onProblem?.(problem);
  }

  #recovered(): void {
    if (this.#problem === undefined) return;
    this.#problem = undefined;
    if (this.#retry !== undefined) clearInterval(this.#retry);
    this.#retry = undefined;
    this.#options.onProblem?.(undefined);
  }

  #tryRecover(): void {
    if (this.#writing) return;
    if (this.#fd === undefined && !this.#open()) return;
    if (this.#queuedBytes === 0) {
      // Nothing was waiting (the open had failed): being able to open is the recovery.
      this.#recovered();
      return;
    }
    this.#pump(true);
  }

  #rotate(): void {
    this.#closeFd();
    const { keep } = this.#options;
    for (let i = keep - 1; i >= 1; i--) {
      const from = `${this.path}.${i}`;
      if (fs.existsSync(from)) fs.renameSync(from, `${this.path}.${i + 1}`);
    }
    fs.renameSync(this.path, `${this.path}.1`);
    const fd = fs.openSync(this.path, 'a', 0o640);
    this.#fd = fd;
    this.#size = 0;
  }

  /** Starts one write of everything queued, unless one is in flight or the file is failing. */
  #pump(retrying = false): void {
    if (this.#writing || this.#queuedBytes === 0) return;
    if (this.#problem !== undefined && !retrying) return;
    if (this.#fd === undefined && !this.#open()) return;
    const batch = this.#queue.length === 1 ? (this.#queue[0] as Buffer) : Buffer.concat(this.#queue);
    this.#queue = [];
    this.#queuedBytes = 0;
    try {
      if (this.#size > 0 && this.#size + batch.length > this.#options.maxBytes) this.#rotate();
    } catch (err) {
      this.#requeue(batch);
      this.#fail(err);
      return;
    }
    this.#writing = true;
    fs.write(this.#fd as number, batch, 0, batch.length, null, (err, written) => {
      this.#writing = false;
      if (written > 0) this.#size += written;
      if (err !== null) {
        this.#requeue(batch.subarray(written));
        // Reopen on retry: the file may have been removed or replaced meanwhile.
        this.#closeFd();
        this.#fail(err);
      } else if (written < batch.length) {
        this.#requeue(batch.subarray(written));
      } else {
        this.#recovered();
      }
      if (this.#closed && this.#queuedBytes === 0) this.#closeFd();
      if (this.#problem === undefined && this.#queuedBytes > 0) this.#pump();
      else this.#notifyDrained();
    });
  }

  #requeue(rest: Buffer): void {
    if (rest.length === 0) return;
    this.#queue.unshift(rest);
    this.#queuedBytes += rest.length;
  }

  #notifyDrained(): void {
    if (this.#writing || (this.#queuedBytes > 0 && this.#problem === undefined)) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }
}
