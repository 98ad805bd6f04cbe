// The one place sluice holds a request body whole (DESIGN.md §1, "Bodies stream"): a SigV4
// request without x-amz-content-sha256 (STS, DynamoDB, Bedrock …) signs sha256(body), and the
// signature must be verified before anything is forwarded. Capped by
// [upstream] max_buffered_body_bytes; over it: 413 body_too_large, read no further. All such
// bodies together draw on the shared buffer budget (pipeline/buffer-budget.ts): past it, 503
// over_capacity, so many requests just under the cap cannot exhaust memory. The reservation
// stays with the body until the exchange ends (releaseBufferedBody), and is given back at once
// on every refusal, error or abort while reading.
import type { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { SluiceError } from '../errors/codes.ts';
import { overCapacity, sharedBufferBudget, type BufferBudget, type BufferReservation } from '../pipeline/buffer-budget.ts';

const reservations = new WeakMap<Buffer, BufferReservation>();

/** Gives a body's share of the buffer budget back (when its exchange has ended). Idempotent. */
export function releaseBufferedBody(body: Buffer): void {
  reservations.get(body)?.release();
  reservations.delete(body);
}

function tooLarge(max: number): SluiceError {
  return new SluiceError('body_too_large', 413, `the request body exceeds ${max} bytes, the most sluice buffers to check a SigV4 signature over it (set [upstream] max_buffered_body_bytes)`);
}

function clientGone(): SluiceError {
  return new SluiceError('bad_request', 400, 'the client closed the connection before the request body ended');
}

/**
 * The client connection under a request: its end means the body can never complete. Needed
 * because sluice's listeners allow half-open connections, and an h2 stream whose client
 * closed the connection is not always aborted by Node (measured: with two streams open, only
 * the first one is), so the body would wait, and hold its reservation, forever.
 */
function connectionOf(stream: Readable): EventEmitter | undefined {
  const h2 = (stream as Readable & { stream?: { session?: { socket?: EventEmitter } } }).stream?.session?.socket;
  return h2 ?? (stream as Readable & { socket?: EventEmitter | null }).socket ?? undefined;
}

function wentAway(stream: Readable): boolean {
  return stream.destroyed || stream.readableEnded || (stream as Readable & { aborted?: boolean }).aborted === true;
}

/** How long a buffered body may take to arrive: a stalled one must not hold its share. */
export const BODY_DEADLINE_MS = 30_000;

function tooSlow(ms: number): SluiceError {
  return new SluiceError('client_timeout', 408, `the request body did not arrive within ${ms / 1000} s`);
}

/**
 * Reads `stream` to its end into one Buffer, or refuses once it passes `maxBytes`. A declared
 * Content-Length over the cap is refused before reading anything. The budget is drawn as bytes
 * arrive, never for a declared length alone: a client that declares 10 MiB and sends nothing
 * must not pin 10 MiB of everyone's budget (a review showed ~30 such h2 streams filling 256 MiB).
 * The body must arrive within `deadlineMs`.
 */
export function readBodyCapped(stream: Readable, maxBytes: number, declaredLength?: number, budget: BufferBudget = sharedBufferBudget, deadlineMs = BODY_DEADLINE_MS): Promise<Buffer | SluiceError> {
  if (declaredLength !== undefined && declaredLength > maxBytes) return Promise.resolve(tooLarge(maxBytes));
  // Owned by the stream: should every path below miss a release, collection gives it back.
  const reservation = budget.open(stream);
  // The steps before this one are asynchronous: a client may have gone away already, and its
  // events with it. An h2 stream that was reset also "ends" (Node's compat layer pushes EOF),
  // so only a stream that was neither aborted nor destroyed ends with a complete body.
  if (wentAway(stream)) {
    reservation.release();
    return Promise.resolve(clientGone());
  }
  const connection = connectionOf(stream);
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let total = 0;
    const refuse = (error: SluiceError): void => {
      cleanup();
      reservation.release();
      resolve(error);
    };
    const deadline = setTimeout(() => {
      stream.pause();
      refuse(tooSlow(deadlineMs));
    }, deadlineMs);
    deadline.unref();
    const cleanup = (): void => {
      clearTimeout(deadline);
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
      stream.removeListener('close', onClose);
      stream.removeListener('aborted', onClose);
      connection?.removeListener('end', onConnectionEnd);
      connection?.removeListener('close', onConnectionEnd);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total > maxBytes) {
        stream.pause();
        refuse(tooLarge(maxBytes));
        return;
      }
      if (total > reservation.bytes && !reservation.grow(total - reservation.bytes)) {
        stream.pause();
        refuse(overCapacity('a SigV4 request body to hash'));
        return;
      }
      parts.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      const body = Buffer.concat(parts, total);
      // A declared length the body fell short of is not kept reserved.
      if (reservation.bytes > total) reservation.shrink(reservation.bytes - total);
      reservations.set(body, reservation);
      resolve(body);
    };
    const onError = (err: Error): void => {
      refuse(new SluiceError('bad_request', 400, `the request body could not be read: ${err.message}`, { cause: err }));
    };
    const onClose = (): void => {
      refuse(clientGone());
    };
    // A connection that ends after a complete message: its body's own 'end' is on its way.
    const onConnectionEnd = (): void => {
      if ((stream as Readable & { complete?: boolean }).complete !== true) onClose();
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('close', onClose);
    stream.once('aborted', onClose);
    connection?.once('end', onConnectionEnd);
    connection?.once('close', onConnectionEnd);
  });
}

/**
 * What the sigv4 step needs from the exchange for such bodies: read the whole body (capped) and
 * have the forwarder send exactly those bytes. See the report to the lead for the wiring.
 */
export interface BodyBuffering {
  bufferBody(maxBytes: number): Promise<Buffer | SluiceError>;
}
