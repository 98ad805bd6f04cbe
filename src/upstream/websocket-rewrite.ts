// Rewrites the frames a WebSocket server sends, message by message, through payload filters
// (the credential scrub on credential hosts). A filter may hold bytes back to match across
// frame boundaries, so the relay re-fragments: each incoming data frame becomes one outgoing
// fragment carrying what the filter released (none when it released nothing), and the
// message's final frame carries the rest. RFC 6455 §5.4 lets an intermediary change the
// fragmentation of a message when no extension is negotiated, which the relay ensures.
import { Transform, type TransformCallback } from 'node:stream';
import { createFrameReader, encodeFrame, FrameError, OPCODE, type FrameHeader } from './websocket-frames.ts';
import type { PayloadFilter } from '../pipeline/body.ts';

/** Most a control frame may carry (RFC 6455 §5.5). */
const CONTROL_MAX = 125;

export function createFrameRewriter(newFilter: () => PayloadFilter): Transform {
  let message: { opcode: number; started: boolean; filter: PayloadFilter } | undefined;
  /** Payload of the control frame being read, or undefined while reading a data frame. */
  let control: Buffer[] | undefined;
  let out: Buffer[] = [];

  const emitData = (bytes: Buffer, fin: boolean): void => {
    if (message === undefined || (bytes.length === 0 && !fin)) return;
    out.push(encodeFrame(fin, message.started ? OPCODE.continuation : message.opcode, bytes));
    message.started = true;
  };

  const reader = createFrameReader({
    header(h: FrameHeader) {
      if (h.rsv !== 0) throw new FrameError('a reserved bit is set but no extension was negotiated');
      if (h.mask !== undefined) throw new FrameError('a server frame must not be masked');
      if (h.opcode >= 8) {
        control = [];
        return;
      }
      control = undefined;
      if (h.opcode === OPCODE.continuation) {
        if (message === undefined) throw new FrameError('continuation frame without a message');
      } else {
        if (message !== undefined) throw new FrameError('new message before the previous one finished');
        message = { opcode: h.opcode, started: false, filter: newFilter() };
      }
    },
    payload(bytes) {
      if (control !== undefined) control.push(bytes);
      else if (message !== undefined) emitData(message.filter.push(bytes), false);
    },
    frameEnd(h) {
      if (control !== undefined) {
        const filter = newFilter();
        let payload = Buffer.concat([filter.push(Buffer.concat(control)), filter.end()]);
        // A replacement may not push a control payload past what the protocol allows.
        if (payload.length > CONTROL_MAX) payload = payload.subarray(0, CONTROL_MAX);
        out.push(encodeFrame(true, h.opcode, payload));
        control = undefined;
        return;
      }
      if (h.fin && message !== undefined) {
        emitData(message.filter.end(), true);
        message = undefined;
      }
    },
  });

  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      try {
        reader.push(chunk);
      } catch (err) {
        callback(err as Error);
        return;
      }
      const ready = out;
      out = [];
      callback(null, ready.length === 0 ? undefined : ready.length === 1 ? ready[0] : Buffer.concat(ready));
    },
  });
}
