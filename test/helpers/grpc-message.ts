// One length-prefixed message as gRPC, gRPC-Web and Connect frame it: a flag byte, a 4-byte
// big-endian length, the payload.

/** The 5-byte header alone: a flag and a declared payload length. */
export function grpcHeader(length: number, flag = 0): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flag;
  header.writeUInt32BE(length, 1);
  return header;
}

/** A whole message around `payload`. */
export function grpcMessage(payload: Buffer | string, flag = 0): Buffer {
  const body = Buffer.from(payload);
  return Buffer.concat([grpcHeader(body.length, flag), body]);
}
