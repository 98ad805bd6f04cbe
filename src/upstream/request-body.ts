// Runs the request body through the steps' transforms on its way upstream, as a stream.
//
// What queued while undici could not write goes upstream as one chunk. An h2 upload arrives in
// pieces smaller than its frames (curl sends each 16 KiB DATA frame as two TLS records, so Node
// hands sluice a ~16 KiB piece and a few-byte piece per frame), and with one upstream write per
// piece a 100 MiB upload cost 12,800 socket writes and TLS records where HTTP/1.1 needed 6,400:
// the upstream connection is what an upload waits on, so pieces queue there anyway, and relaying
// them one by one was most of what h2 uploads cost above HTTP/1.1. Queued pieces go as one
// write instead: ~1,900 writes per 100 MiB over h2 and ~1,600 over HTTP/1.1, and sluice's CPU per
// MiB uploaded fell from 3.6 to 3.0 ms (h2) and 3.1 to 2.7 ms (HTTP/1.1) on loopback, medians of
// nine. The queue is bounded (QUEUE_BYTES): past it the agent's stream is paused (back-pressure);
// bytes written while undici waits for them go at once, never held for more.
import { Duplex, type Readable } from 'node:stream';
import type { RequestBodyTransform } from '../pipeline/body.ts';
import { SluiceError } from '../errors/codes.ts';
import { noteRelayed } from './relay-gc.ts';

const EMPTY = Buffer.alloc(0);

/**
 * Body bytes queued for undici before the agent's stream is paused (back-pressure). With the
 * writable side's 16 KiB and the readable side's one delivered chunk (up to Node's 64 KiB high
 * water mark) a stalled upload holds at most what the Transform this replaced held (2 × 64 KiB).
 */
export const QUEUE_BYTES = 48 * 1024;
const WRITABLE_HIGH_WATER_MARK = 16 * 1024;
/** The most of a request body this stream holds once its source has ended (the queue and the writable side). */
export const HELD_AFTER_END_BYTES = QUEUE_BYTES + WRITABLE_HIGH_WATER_MARK;

/**
 * A request body must bring at least this much (or its end) in every `stallMs` window in which
 * sluice was ready for more. Without it a body that never comes (an h2 POST that sends no DATA,
 * an HTTP/1 Content-Length with nothing after the head) held its upstream connection, its h2
 * window reservation and its place in undici's per-origin pool for as long as the upstream
 * waited: 256 such requests made every other request to that host queue, and 256 bodyless h2
 * streams took the whole h2 window budget (an attacker's review, issue 14). One byte per window
 * is not progress: 1 KiB per 30 s is 34 bytes a second.
 */
export const BODY_PROGRESS_BYTES = 1024;

/** Feeds `input` through transforms `from`.. in order; returns their combined output or an error. */
function pushFrom(transforms: readonly RequestBodyTransform[], from: number, input: Buffer): Buffer | SluiceError {
  let data = input;
  for (let i = from; i < transforms.length; i++) {
    const t = transforms[i] as RequestBodyTransform;
    const r = t.push(data);
    if (r instanceof SluiceError) return r;
    data = r;
  }
  return data;
}

/** Ends the transforms in order; what one releases at its end still passes through the later ones. */
function endAll(transforms: readonly RequestBodyTransform[]): Buffer | SluiceError {
  const parts: Buffer[] = [];
  for (let i = 0; i < transforms.length; i++) {
    const released = (transforms[i] as RequestBodyTransform).end();
    if (released instanceof SluiceError) return released;
    if (released.length === 0) continue;
    const rest = pushFrom(transforms, i + 1, released);
    if (rest instanceof SluiceError) return rest;
    parts.push(rest);
  }
  return parts.length === 0 ? EMPTY : Buffer.concat(parts);
}

/**
 * The request body as undici reads it: counted (`onBytes`, the bytes the agent sent) and run
 * through the transforms. Counting here, not with a 'data' listener on the request, matters: a
 * listener would start the stream flowing before undici reads it, and lose what was buffered.
 */
export function transformRequestBody(
  source: Readable,
  transforms: readonly RequestBodyTransform[],
  onBytes?: (n: number) => void,
  progress?: { stallMs: number; answered: () => boolean },
): Readable {
  /** Transformed bytes undici has not read yet; they go to it as one chunk (header comment). */
  let queue: Buffer[] = [];
  let queued = 0;
  /** undici asked for data while the queue was empty: the next bytes go to it at once. */
  let wanted = false;
  /** All input is in the queue (the transforms have ended). */
  let ended = false;
  /** The callback of the write that filled the queue: called once undici takes it. */
  let blocked: (() => void) | undefined;
  /** Bytes the agent sent in the current progress window (BODY_PROGRESS_BYTES). */
  let windowBytes = 0;
  /** sluice held the agent back (queue full) at some point of the current window. */
  let heldBack = false;

  const enqueue = (data: Buffer): void => {
    if (data.length === 0) return;
    queue.push(data);
    queued += data.length;
  };
  const deliver = (): void => {
    wanted = false;
    if (queued > 0) {
      const data = queue.length === 1 ? queue[0] as Buffer : Buffer.concat(queue, queued);
      queue = [];
      queued = 0;
      stream.push(data);
    }
    if (ended) stream.push(null);
    const release = blocked;
    blocked = undefined;
    release?.();
  };

  const stream = new Duplex({
    writableHighWaterMark: WRITABLE_HIGH_WATER_MARK,
    write(chunk: Buffer, _encoding, callback) {
      windowBytes += chunk.length;
      onBytes?.(chunk.length);
      noteRelayed(chunk.length);
      const out = transforms.length === 0 ? chunk : pushFrom(transforms, 0, chunk);
      if (out instanceof SluiceError) {
        callback(out);
        return;
      }
      enqueue(out);
      if (wanted && queued > 0) deliver();
      if (queued < QUEUE_BYTES) callback();
      else {
        blocked = callback;
        heldBack = true;
      }
    },
    final(callback) {
      clearTimeout(watchdog);
      const tail = transforms.length === 0 ? EMPTY : endAll(transforms);
      if (tail instanceof SluiceError) {
        callback(tail);
        return;
      }
      enqueue(tail);
      ended = true;
      if (wanted) deliver();
      callback();
    },
    read() {
      if (queued > 0 || ended) deliver();
      else wanted = true;
    },
    destroy(err, callback) {
      clearTimeout(watchdog);
      queue = [];
      queued = 0;
      blocked = undefined;
      callback(err);
    },
  });
  const checkProgress = (): void => {
    // Once the upstream answers, the exchange is one it chose to hold: no longer a stall to judge.
    if (ended || stream.destroyed || progress?.answered() === true) return;
    // heldBack is set whenever a write is blocked, so it covers a block still in force too.
    if (windowBytes >= BODY_PROGRESS_BYTES || heldBack) {
      windowBytes = 0;
      heldBack = blocked !== undefined;
      watchdog?.refresh();
      return;
    }
    stream.destroy(new SluiceError('client_timeout', 408, `the request body stopped arriving: less than ${BODY_PROGRESS_BYTES} bytes in ${(progress?.stallMs ?? 0) / 1000} s`));
  };
  const watchdog = progress !== undefined && progress.stallMs > 0 ? setTimeout(checkProgress, progress.stallMs) : undefined;
  watchdog?.unref();
  source.on('error', (err) => stream.destroy(err));
  return source.pipe(stream);
}
