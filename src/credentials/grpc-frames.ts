// gRPC's length-prefixed messages (a 1-byte compressed flag, a 4-byte big-endian length, the
// payload), followed only to know where each message ends. A scanner may release a gRPC stream
// at a message end (stream-replace.ts): the next message starts with its flag byte, 0 or 1, a
// control byte no match can hold, so no match spans the end. Without this a bidi stream would
// wait for the window to fill: the client sends a message and waits for the reply to it.

export interface FrameTracker {
  /** Feeds the next bytes of the stream. */
  push(chunk: Buffer): void;
  /** Stream offset just after the last complete message seen (0 before the first). */
  readonly lastEnd: number;
}

const HEADER_BYTES = 5;

export function createGrpcFrameTracker(): FrameTracker {
  const header = Buffer.alloc(HEADER_BYTES);
  let headerFilled = 0;
  /** Payload bytes still to come; -1 while reading a header. */
  let remaining = -1;
  let seen = 0;
  let lastEnd = 0;
  return {
    get lastEnd() {
      return lastEnd;
    },
    push(chunk) {
      let i = 0;
      while (i < chunk.length) {
        if (remaining < 0) {
          const take = Math.min(HEADER_BYTES - headerFilled, chunk.length - i);
          chunk.copy(header, headerFilled, i, i + take);
          headerFilled += take;
          i += take;
          if (headerFilled < HEADER_BYTES) break;
          headerFilled = 0;
          remaining = header.readUInt32BE(1);
        }
        const take = Math.min(remaining, chunk.length - i);
        i += take;
        remaining -= take;
        if (remaining === 0) {
          remaining = -1;
          lastEnd = seen + i;
        }
      }
      seen += chunk.length;
    },
  };
}

/** True for a gRPC body (`application/grpc`, `application/grpc+proto`, `application/grpc-web…` excluded). */
export function isGrpcContentType(value: string | string[] | undefined): boolean {
  const type = (Array.isArray(value) ? value[0] : value)?.trim().toLowerCase() ?? '';
  return type === 'application/grpc' || type.startsWith('application/grpc+') || type.startsWith('application/grpc;');
}
