// gRPC's length-prefixed messages (a 1-byte compressed flag, a 4-byte big-endian length, the
// payload), followed only to know where each message ends. A scanner may release a gRPC stream
// at a message end (stream-replace.ts): the next message starts with its flag byte, 0 or 1, a
// control byte no match can hold, so no match spans the end. Without this a bidi stream would
// wait for the window to fill: the client sends a message and waits for the reply to it.
// A header whose flag byte is neither 0 nor 1 is not gRPC framing: from there on no end is
// trusted (the scanner keeps its window). That comes too late for an end already released: a
// sender that declares an end inside a value has the value's first part out before the next
// header shows the framing false. Where the agent chooses the bytes around a real value (a
// host with a body swap) the scrub does not use message ends at all: response-scrub.ts.

export interface FrameTracker {
  /** Feeds the next bytes of the stream. */
  push(chunk: Buffer): void;
  /** Stream offset just after the last complete message seen (0 before the first). */
  readonly lastEnd: number;
}

/** What a walk over gRPC framing reports, in stream order. */
export interface FrameVisitor {
  /** A message header; false stops the walk for good (the rest is not framing). */
  header(flag: number, length: number): boolean;
  /** The next slice of the current message's payload (a view of the pushed chunk). */
  payload?(part: Buffer): void;
  /** The current message ended, `offset` bytes into the stream. */
  end?(offset: number): void;
}

const GRPC_HEADER_BYTES = 5;

/** A message header: the flag byte and the payload's length, big-endian. */
export function grpcFrameHeader(flag: number, length: number): Buffer {
  const header = Buffer.allocUnsafe(GRPC_HEADER_BYTES);
  header[0] = flag;
  header.writeUInt32BE(length, 1);
  return header;
}

/** Walks gRPC's framing across pushes split anywhere, reporting to `visit`. */
export function createGrpcFrameWalker(visit: FrameVisitor): { push(chunk: Buffer): void } {
  const header = Buffer.alloc(GRPC_HEADER_BYTES);
  let headerFilled = 0;
  /** Payload bytes still to come; -1 while reading a header. */
  let remaining = -1;
  let seen = 0;
  let stopped = false;
  return {
    push(chunk) {
      let i = 0;
      while (!stopped && i < chunk.length) {
        if (remaining < 0) {
          const take = Math.min(GRPC_HEADER_BYTES - headerFilled, chunk.length - i);
          chunk.copy(header, headerFilled, i, i + take);
          headerFilled += take;
          i += take;
          if (headerFilled < GRPC_HEADER_BYTES) break;
          headerFilled = 0;
          remaining = header.readUInt32BE(1);
          if (!visit.header(header[0] as number, remaining)) {
            stopped = true;
            break;
          }
        }
        const take = Math.min(remaining, chunk.length - i);
        if (take > 0) visit.payload?.(chunk.subarray(i, i + take));
        i += take;
        remaining -= take;
        if (remaining === 0) {
          remaining = -1;
          visit.end?.(seen + i);
        }
      }
      seen += chunk.length;
    },
  };
}

export function createGrpcFrameTracker(): FrameTracker {
  let lastEnd = 0;
  const walker = createGrpcFrameWalker({
    header: (flag) => flag === 0 || flag === 1,
    end: (offset) => {
      lastEnd = offset;
    },
  });
  return {
    get lastEnd() {
      return lastEnd;
    },
    push: (chunk) => walker.push(chunk),
  };
}

/** True for a gRPC body (`application/grpc`, `application/grpc+proto`, `application/grpc-web…` excluded). */
export function isGrpcContentType(value: string | string[] | undefined): boolean {
  const type = (Array.isArray(value) ? value[0] : value)?.trim().toLowerCase() ?? '';
  return type === 'application/grpc' || type.startsWith('application/grpc+') || type.startsWith('application/grpc;');
}
