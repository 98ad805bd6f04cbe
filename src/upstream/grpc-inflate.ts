// gRPC compresses each message itself (flag bit 0x01, the algorithm in `grpc-encoding`; gRPC-Web
// and Connect's streams frame and name it the same way), not the HTTP body, so
// response-decoder.ts never sees it. A scrub must see plaintext: an echo of a real value inside
// a gzip'd message would otherwise reach the agent, which only has to inflate it. This
// re-frames the messages uncompressed: plain ones pass through as they stream; a compressed one
// is held whole (bounded, and counted in the shared buffer budget at the most a message may
// take), inflated and sent with the compression bit clear and its new length. A peer reads a
// message without that bit as plain whatever the encoding header says. Anything that cannot be
// inflated (another algorithm, the bit without one, a corrupt or oversized message, a flag that
// is not this framing, a stream cut inside a held message) stops the output for good, with a
// reason in `failure`: the caller ends the call with an error instead of passing bytes no scrub
// could read. The reasons name what went wrong, never a value read from the bytes (they may be
// a real value's bytes).
import { gunzipSync, inflateSync } from 'node:zlib';
import { createGrpcFrameWalker, grpcFrameHeader } from '../credentials/grpc-frames.ts';
import { sharedBufferBudget, type BufferBudget } from '../pipeline/buffer-budget.ts';

/** Largest message inflated: gRPC's default receive limit. */
export const MAX_GRPC_MESSAGE_BYTES = 4 * 1024 * 1024;
/**
 * Largest compressed message held: deflate grows incompressible data by at most 5 bytes per
 * 64 KiB stored block (and gzip adds 18), so only a message that inflates past the limit can
 * be longer. Refusing at the inflated size alone keeps the outcome from depending on how well
 * a real value next to the agent's bytes compressed (a compression-size oracle).
 */
export const MAX_GRPC_COMPRESSED_BYTES = MAX_GRPC_MESSAGE_BYTES + (MAX_GRPC_MESSAGE_BYTES >> 10) + 1024;

const EMPTY = Buffer.alloc(0);

export interface GrpcInflater {
  push(chunk: Buffer): Buffer;
  /** Releases its budget; what it still held (a message cut short) becomes a failure. Once. */
  end(): Buffer;
  /** Why the output stopped, once it did. */
  readonly failure: string | undefined;
}

type Inflate = (compressed: Buffer) => Buffer;

/** The inflater for a `grpc-encoding` value; undefined for one sluice cannot read. */
function inflaterFor(encoding: string | undefined): Inflate | undefined {
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
      return (b) => gunzipSync(b, { maxOutputLength: MAX_GRPC_MESSAGE_BYTES });
    case 'deflate':
      return (b) => inflateSync(b, { maxOutputLength: MAX_GRPC_MESSAGE_BYTES });
    default:
      return undefined;
  }
}

export interface InflaterOptions {
  /** Flag bits besides compression that the framing uses: gRPC-Web's trailer frame 0x80, Connect's end of stream 0x02. */
  extraFlag?: number;
  owner?: object;
  budget?: BufferBudget;
}

export function createGrpcInflater(encoding: string | undefined, options: InflaterOptions = {}): GrpcInflater {
  const reservation = (options.budget ?? sharedBufferBudget).open(options.owner);
  const allowed = (options.extraFlag ?? 0) | 1;
  /** The current message's compressed payload and flag, while one is held. */
  let held: Buffer[] | undefined;
  let heldFlag = 0;
  let failure: string | undefined;
  let ended = false;
  /** What the current push lets out. */
  let out: Buffer[] = [];

  const fail = (reason: string): false => {
    failure ??= reason;
    held = undefined;
    reservation.release();
    return false;
  };

  /** The held message, inflated and framed with the compression bit clear. */
  const inflateHeld = (): void => {
    const inflate = inflaterFor(encoding);
    const compressed = Buffer.concat(held ?? []);
    held = undefined;
    reservation.shrink(reservation.bytes);
    if (inflate === undefined) {
      fail(`a compressed message whose encoding (${encoding === undefined ? 'none named' : 'not gzip or deflate'}) sluice cannot inflate to scrub`);
      return;
    }
    let plain: Buffer;
    try {
      plain = inflate(compressed);
    } catch {
      fail(`a compressed message that could not be inflated (corrupt, or over ${MAX_GRPC_MESSAGE_BYTES} bytes inflated)`);
      return;
    }
    // The inflated copy counts while it is handed on: many at once must not pass the budget.
    if (!reservation.grow(plain.length)) {
      fail('a compressed message, with the [proxy] buffer_budget_bytes budget spent');
      return;
    }
    reservation.shrink(plain.length);
    out.push(grpcFrameHeader(heldFlag & ~1, plain.length), plain);
  };

  const walker = createGrpcFrameWalker({
    header(flag, length) {
      if ((flag & ~allowed) !== 0) return fail('a message whose flag byte is not this framing\'s');
      if ((flag & 1) === 0) {
        out.push(grpcFrameHeader(flag, length));
        return true;
      }
      if (length > MAX_GRPC_COMPRESSED_BYTES) return fail(`a compressed message too long to inflate within ${MAX_GRPC_MESSAGE_BYTES} bytes`);
      // The most any message may need, not its length: whether the budget has room must not
      // depend on how well a real value compressed.
      if (!reservation.grow(MAX_GRPC_COMPRESSED_BYTES)) return fail('a compressed message, with the [proxy] buffer_budget_bytes budget spent');
      held = [];
      heldFlag = flag;
      return true;
    },
    payload(part) {
      if (held === undefined) out.push(part);
      else held.push(Buffer.from(part));
    },
    end() {
      if (held !== undefined) inflateHeld();
    },
  });

  return {
    get failure() {
      return failure;
    },
    push(chunk) {
      if (failure !== undefined || ended) return EMPTY;
      out = [];
      walker.push(chunk);
      // A failure withholds this push's bytes too: the call is ending in error.
      if (failure !== undefined) return EMPTY;
      return out.length === 1 ? out[0] as Buffer : Buffer.concat(out);
    },
    end() {
      if (!ended && failure === undefined && held !== undefined) fail('the response ended inside a compressed message');
      ended = true;
      reservation.release();
      return EMPTY;
    },
  };
}

/** For a response no inflater can read: passes nothing on, with `reason` as its failure. */
export function uninspectable(reason: string): GrpcInflater {
  return { push: () => EMPTY, end: () => EMPTY, failure: reason };
}
