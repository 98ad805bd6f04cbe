// gRPC compresses each message itself (its flag byte 1, the algorithm in `grpc-encoding`), not
// the HTTP body, so response-decoder.ts never sees it. A scrub must see plaintext: an echo of
// a real value inside a gzip'd message would otherwise reach the agent, which only has to
// inflate it. This re-frames a gRPC response's messages uncompressed: flag-0 messages pass
// through as they stream; a compressed one is held whole (bounded, and counted in the shared
// buffer budget), inflated and sent as a flag-0 message of its new length. A gRPC peer reads
// a flag-0 message as uncompressed whatever `grpc-encoding` says. Anything that cannot be
// inflated (another algorithm, flag 1 without one, a corrupt or oversized message, a stream
// cut inside a held message) stops the output for good, with the reason in `failure`: the
// caller ends the call with an error status instead of passing bytes no scrub could read.
import { gunzipSync, inflateSync } from 'node:zlib';
import { createGrpcFrameWalker, GRPC_HEADER_BYTES } from '../credentials/grpc-frames.ts';
import { sharedBufferBudget, type BufferBudget } from '../pipeline/buffer-budget.ts';

/** Largest message held for inflating, and largest inflated: gRPC's default receive limit. */
export const MAX_GRPC_MESSAGE_BYTES = 4 * 1024 * 1024;

const EMPTY = Buffer.alloc(0);

export interface GrpcInflater {
  push(chunk: Buffer): Buffer;
  /** Releases its budget; what it still held (a message cut short) becomes a failure. */
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

function header(flag: number, length: number): Buffer {
  const h = Buffer.allocUnsafe(GRPC_HEADER_BYTES);
  h[0] = flag;
  h.writeUInt32BE(length, 1);
  return h;
}

/**
 * `grpcWeb`: gRPC-Web's binary framing, whose trailers travel in a last frame flagged 0x80
 * (passed through like a flag-0 message).
 */
export function createGrpcInflater(encoding: string | undefined, options: { grpcWeb?: boolean; owner?: object; budget?: BufferBudget } = {}): GrpcInflater {
  const reservation = (options.budget ?? sharedBufferBudget).open(options.owner);
  /** The current message's compressed payload, while one is held. */
  let held: Buffer[] | undefined;
  let failure: string | undefined;
  /** What the current push lets out. */
  let out: Buffer[] = [];

  const fail = (reason: string): false => {
    failure ??= reason;
    held = undefined;
    reservation.release();
    return false;
  };

  /** The held message, inflated and framed as flag 0. */
  const inflateHeld = (): void => {
    const inflate = inflaterFor(encoding);
    const compressed = Buffer.concat(held ?? []);
    held = undefined;
    reservation.shrink(reservation.bytes);
    if (inflate === undefined) {
      fail(`a compressed gRPC message with grpc-encoding ${encoding ?? '(none)'}, which sluice cannot inflate to scrub`);
      return;
    }
    try {
      const plain = inflate(compressed);
      out.push(header(0, plain.length), plain);
    } catch (err) {
      fail(`a compressed gRPC message could not be inflated (${(err as Error).message}); over ${MAX_GRPC_MESSAGE_BYTES} bytes inflated, or corrupt`);
    }
  };

  const walker = createGrpcFrameWalker({
    header(flag, length) {
      if (flag === 1) {
        if (length > MAX_GRPC_MESSAGE_BYTES) return fail(`a compressed gRPC message of ${length} bytes, over the ${MAX_GRPC_MESSAGE_BYTES} sluice holds to inflate and scrub`);
        if (!reservation.grow(length)) return fail('a compressed gRPC message, with the [proxy] buffer_budget_bytes budget spent');
        held = [];
        return true;
      }
      if (flag !== 0 && !(options.grpcWeb === true && flag === 0x80)) return fail(`a gRPC message with flag byte ${flag}`);
      out.push(header(flag, length));
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
      if (failure !== undefined) return EMPTY;
      out = [];
      walker.push(chunk);
      // A failure withholds this push's bytes too: the call is ending in error.
      if (failure !== undefined) return EMPTY;
      return out.length === 1 ? out[0] as Buffer : Buffer.concat(out);
    },
    end() {
      if (failure === undefined && held !== undefined) fail('the response ended inside a compressed gRPC message');
      reservation.release();
      return EMPTY;
    },
  };
}

/** For a response no inflater can read: passes nothing on, with `reason` as its failure. */
export function uninspectable(reason: string): GrpcInflater {
  return { push: () => EMPTY, end: () => EMPTY, failure: reason };
}
