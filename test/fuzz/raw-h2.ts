// One h2 request written as raw frames (the connection preface, SETTINGS, one HEADERS frame
// whose header block is HPACK literals, never Huffman), for header blocks node:http2 refuses to
// send: connection-specific fields, unknown or repeated pseudo-headers, upper-case names. What
// comes back is classified by frame type only, so no HPACK decoder is needed.
import tls from 'node:tls';

export type RawH2Outcome = 'headers' | 'reset' | 'goaway' | 'closed' | 'timeout';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const TYPE = { data: 0, headers: 1, rstStream: 3, settings: 4, ping: 6, goaway: 7, continuation: 9 } as const;
export const FLAG = { endStream: 0x1, ack: 0x1, endHeaders: 0x4 } as const;

/** One frame: 9-byte header (RFC 9113 §4.1) and its payload. */
export function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK integer with a 7-bit prefix (RFC 7541 §5.1), H bit clear: a plain string length. */
function hpackLength(n: number): Buffer {
  if (n < 127) return Buffer.from([n]);
  const bytes = [127];
  let rest = n - 127;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** "Literal header field without indexing, new name" for each pair (RFC 7541 §6.2.2). */
export function hpackBlock(fields: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0]), hpackLength(n.length), n, hpackLength(v.length), v);
  }
  return Buffer.concat(parts);
}

/** Sends the header block on stream 1 (END_STREAM) and reports what the server does with it. */
export function sendRawH2(port: number, servername: string, ca: Buffer, fields: readonly (readonly [string, string])[], timeoutMs = 2_000): Promise<RawH2Outcome> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['h2'] });
    let buffer = Buffer.alloc(0);
    let done = false;
    const finish = (outcome: RawH2Outcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('error', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.once('secureConnect', () => {
      socket.write(Buffer.concat([PREFACE, frame(TYPE.settings, 0, 0, Buffer.alloc(0)), frame(TYPE.headers, FLAG.endStream | FLAG.endHeaders, 1, hpackBlock(fields))]));
    });
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 9) {
        const length = buffer.readUIntBE(0, 3);
        if (buffer.length < 9 + length) break;
        const type = buffer[3];
        const flags = buffer[4] as number;
        const stream = buffer.readUInt32BE(5) & 0x7fffffff;
        buffer = buffer.subarray(9 + length);
        if (type === TYPE.settings && (flags & FLAG.ack) === 0) socket.write(frame(TYPE.settings, FLAG.ack, 0, Buffer.alloc(0)));
        else if (type === TYPE.goaway) finish('goaway');
        else if (stream === 1 && type === TYPE.rstStream) finish('reset');
        else if (stream === 1 && type === TYPE.headers) finish('headers');
      }
    });
  });
}
