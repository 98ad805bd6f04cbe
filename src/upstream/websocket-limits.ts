// Limits on a relayed WebSocket, per direction: the largest frame and the largest message
// (the sum of its fragments) a peer may send. Without them a peer could make sluice relay (and
// the scrub hold) a message of any size. The guard passes payload bytes on as they arrive but
// holds a frame's header until it is whole and checked, so whatever it has let through ends on
// a frame boundary when it refuses one: the relay can then still send a clean close frame
// (1009, Message Too Big) on that side.
import { Transform, type TransformCallback } from 'node:stream';
import { parseFrameHeader, FrameError } from './websocket-frames.ts';

export interface WebSocketLimits {
  maxFrameBytes: number;
  maxMessageBytes: number;
}

export interface FrameGuard extends Transform {
  /** True when every byte let through so far ends a whole frame. */
  readonly atFrameBoundary: boolean;
}

export function createFrameGuard(limits: WebSocketLimits, onFrame?: () => void): FrameGuard {
  let pending: Buffer = Buffer.alloc(0); // an incomplete header
  let remaining = 0; // payload bytes of the current frame still to pass
  let messageBytes = 0;

  const check = (h: { opcode: number; length: number; fin: boolean }): void => {
    if (h.length > limits.maxFrameBytes) throw new FrameError(`a frame of ${h.length} bytes exceeds max_frame_bytes (${limits.maxFrameBytes})`, 1009);
    if (h.opcode >= 8) return;
    messageBytes = h.opcode === 0 ? messageBytes + h.length : h.length;
    if (messageBytes > limits.maxMessageBytes) throw new FrameError(`a message exceeds max_message_bytes (${limits.maxMessageBytes})`, 1009);
  };

  const guard = new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      const out: Buffer[] = [];
      let data: Buffer = chunk;
      try {
        while (data.length > 0) {
          if (remaining > 0) {
            const take = Math.min(remaining, data.length);
            out.push(data.subarray(0, take));
            remaining -= take;
            data = data.subarray(take);
            if (remaining === 0) onFrame?.();
            continue;
          }
          const buf = pending.length === 0 ? data : Buffer.concat([pending, data]);
          const parsed = parseFrameHeader(buf);
          if (parsed === undefined) {
            pending = Buffer.from(buf);
            data = Buffer.alloc(0);
            break;
          }
          check(parsed.header);
          out.push(buf.subarray(0, parsed.size));
          data = buf.subarray(parsed.size);
          pending = Buffer.alloc(0);
          remaining = parsed.header.length;
          if (remaining === 0) onFrame?.();
        }
      } catch (err) {
        if (out.length > 0) guard.push(Buffer.concat(out));
        callback(err as Error);
        return;
      }
      callback(null, out.length === 0 ? undefined : out.length === 1 ? out[0] : Buffer.concat(out));
    },
  }) as FrameGuard;
  // A close frame may be sent between the fragments of a message, so only the frame matters.
  Object.defineProperty(guard, 'atFrameBoundary', { get: () => remaining === 0 && pending.length === 0 });
  return guard;
}
