// RFC 6455 framing, incrementally: a frame's header is read whole (at most 14 bytes), its
// payload is handed on piece by piece as it arrives, so no frame is ever buffered whole. Used by
// the WebSocket relay to rewrite what a server sends (the credential scrub) and to enforce
// limits, without keeping messages in memory.

export const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

export interface FrameHeader {
  fin: boolean;
  /** RSV1–3 as a 3-bit number; non-zero only with a negotiated extension. */
  rsv: number;
  opcode: number;
  /** The 4-byte masking key of a client frame, undefined for a server frame. */
  mask: Buffer | undefined;
  /** Payload length announced by the header. */
  length: number;
}

export interface FrameEvents {
  /** A frame header was read; its payload (possibly empty) follows as `payload` calls. */
  header(h: FrameHeader): void;
  /** Unmasked payload bytes of the current frame. */
  payload(bytes: Buffer): void;
  /** The current frame's payload is complete. */
  frameEnd(h: FrameHeader): void;
}

/** Why a byte stream is not RFC 6455 framing sluice can relay. */
export class FrameError extends Error {
  readonly closeCode: number;
  constructor(message: string, closeCode = 1002) {
    super(message);
    this.name = 'FrameError';
    this.closeCode = closeCode;
  }
}

/** Largest payload length sluice accepts in a header: 2^53 − 1 (JS integers); limits are lower. */
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

export interface FrameReader {
  /** Feeds bytes; throws FrameError on malformed framing. */
  push(chunk: Buffer): void;
}

/**
 * Parses the frame header at the start of `buf`: the header and its length in bytes, or
 * undefined while it is incomplete. Throws FrameError on a header RFC 6455 forbids.
 */
export function parseFrameHeader(buf: Buffer): { header: FrameHeader; size: number } | undefined {
  if (buf.length < 2) return undefined;
  const b0 = buf[0] as number;
  const b1 = buf[1] as number;
  const masked = (b1 & 0x80) !== 0;
  let length = b1 & 0x7f;
  let at = 2;
  if (length === 126) {
    if (buf.length < 4) return undefined;
    length = buf.readUInt16BE(2);
    at = 4;
  } else if (length === 127) {
    if (buf.length < 10) return undefined;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(MAX_SAFE)) throw new FrameError('frame length out of range', 1009);
    length = Number(big);
    at = 10;
  }
  if (masked && buf.length < at + 4) return undefined;
  const mask = masked ? Buffer.from(buf.subarray(at, at + 4)) : undefined;
  at += masked ? 4 : 0;
  const opcode = b0 & 0x0f;
  const header: FrameHeader = { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 0x07, opcode, mask, length };
  if (opcode >= 8) {
    if (!header.fin) throw new FrameError('fragmented control frame');
    if (length > 125) throw new FrameError('control frame payload over 125 bytes');
    if (opcode > 10) throw new FrameError(`reserved opcode ${opcode}`);
  } else if (opcode > 2) {
    throw new FrameError(`reserved opcode ${opcode}`);
  }
  return { header, size: at };
}

export function createFrameReader(events: FrameEvents, options: { unmask?: boolean } = {}): FrameReader {
  const unmaskPayload = options.unmask !== false;
  let head: Buffer = Buffer.alloc(0);
  let current: FrameHeader | undefined;
  let remaining = 0;
  let offset = 0; // payload bytes of the current frame already read (mask alignment)

  const unmask = (bytes: Buffer, mask: Buffer | undefined, from: number): Buffer => {
    if (mask === undefined || !unmaskPayload) return bytes;
    const out = Buffer.allocUnsafe(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = (bytes[i] as number) ^ (mask[(from + i) & 3] as number);
    return out;
  };

  return {
    push(chunk) {
      let data: Buffer = chunk;
      while (true) {
        if (current === undefined) {
          head = head.length === 0 ? data : Buffer.concat([head, data]);
          data = Buffer.alloc(0);
          const parsed = parseFrameHeader(head);
          if (parsed === undefined) return;
          current = parsed.header;
          remaining = current.length;
          offset = 0;
          events.header(current);
          data = head.subarray(parsed.size);
          head = Buffer.alloc(0);
        }
        if (remaining > 0) {
          if (data.length === 0) return;
          const take = Math.min(remaining, data.length);
          events.payload(unmask(data.subarray(0, take), current.mask, offset));
          offset += take;
          remaining -= take;
          data = data.subarray(take);
          if (remaining > 0) return;
        }
        const done = current;
        current = undefined;
        events.frameEnd(done);
        if (data.length === 0) return;
      }
    },
  };
}

/** One frame as sent by a server (unmasked) or, with `mask`, by a client. */
export function encodeFrame(fin: boolean, opcode: number, payload: Buffer, mask?: Buffer): Buffer {
  const len = payload.length;
  const extra = len < 126 ? 0 : len <= 0xffff ? 2 : 8;
  const header = Buffer.alloc(2 + extra + (mask === undefined ? 0 : 4));
  header[0] = (fin ? 0x80 : 0) | opcode;
  if (extra === 0) header[1] = len;
  else if (extra === 2) {
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  if (mask === undefined) return Buffer.concat([header, payload]);
  header[1] = (header[1] as number) | 0x80;
  mask.copy(header, 2 + extra);
  const masked = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) masked[i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([header, masked]);
}
