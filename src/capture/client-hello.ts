// Reads the server name out of a TLS ClientHello before the handshake starts, so that sluice
// can refuse a connection without SNI with a proper alert (RFC 6066 §3: unrecognized_name)
// and knows the destination name before any certificate is chosen.
//
// The ClientHello may span several TCP segments (post-quantum key shares make it ~1.8 KB) and,
// in theory, several TLS records; we accumulate until the whole handshake message is here.

export type ClientHelloResult =
  | { kind: 'incomplete' }
  | { kind: 'not_tls' }
  | { kind: 'hello'; serverName: string | undefined; alpn: string[] };

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
/** A ClientHello larger than this is refused rather than buffered further. */
export const MAX_CLIENT_HELLO_BYTES = 16 * 1024;

/** Concatenates the handshake bytes carried by consecutive handshake records. */
function handshakeBytes(data: Buffer): Buffer | 'incomplete' | 'not_tls' {
  const parts: Buffer[] = [];
  let offset = 0;
  let needed = -1;
  let have = 0;
  while (offset + 5 <= data.length) {
    if (data[offset] !== RECORD_HANDSHAKE) return 'not_tls';
    const major = data[offset + 1];
    if (major !== 3) return 'not_tls';
    const length = data.readUInt16BE(offset + 3);
    if (offset + 5 + length > data.length) break;
    const fragment = data.subarray(offset + 5, offset + 5 + length);
    parts.push(fragment);
    have += fragment.length;
    offset += 5 + length;
    if (needed < 0 && have >= 4) {
      const first = parts.length === 1 ? fragment : Buffer.concat(parts);
      if (first[0] !== HANDSHAKE_CLIENT_HELLO) return 'not_tls';
      needed = 4 + first.readUIntBE(1, 3);
    }
    if (needed >= 0 && have >= needed) return Buffer.concat(parts).subarray(0, needed);
  }
  if (data.length >= 1 && data[0] !== RECORD_HANDSHAKE) return 'not_tls';
  if (data.length >= 2 && data[1] !== 3) return 'not_tls';
  return 'incomplete';
}

/** Parses what has arrived so far. */
export function parseClientHello(data: Buffer): ClientHelloResult {
  const hs = handshakeBytes(data);
  if (hs === 'incomplete') return { kind: 'incomplete' };
  if (hs === 'not_tls') return { kind: 'not_tls' };
  try {
    return readHello(hs);
  } catch {
    return { kind: 'not_tls' };
  }
}

function readHello(hs: Buffer): ClientHelloResult {
  let p = 4; // handshake type + length
  p += 2 + 32; // client_version, random
  const sessionIdLength = byteAt(hs, p);
  p += 1 + sessionIdLength;
  const cipherSuitesLength = hs.readUInt16BE(p);
  p += 2 + cipherSuitesLength;
  const compressionLength = byteAt(hs, p);
  p += 1 + compressionLength;
  let serverName: string | undefined;
  const alpn: string[] = [];
  if (p + 2 > hs.length) return { kind: 'hello', serverName, alpn }; // no extensions at all
  const extensionsEnd = p + 2 + hs.readUInt16BE(p);
  p += 2;
  if (extensionsEnd > hs.length) throw new RangeError('extensions overrun');
  while (p + 4 <= extensionsEnd) {
    const type = hs.readUInt16BE(p);
    const length = hs.readUInt16BE(p + 2);
    const body = hs.subarray(p + 4, p + 4 + length);
    if (body.length !== length) throw new RangeError('extension overrun');
    if (type === EXT_SERVER_NAME) serverName = readServerName(body);
    else if (type === EXT_ALPN) readAlpn(body, alpn);
    p += 4 + length;
  }
  return { kind: 'hello', serverName, alpn };
}

function readServerName(body: Buffer): string | undefined {
  let p = 2; // server_name_list length
  while (p + 3 <= body.length) {
    const nameType = body[p];
    const length = body.readUInt16BE(p + 1);
    const name = body.subarray(p + 3, p + 3 + length);
    if (name.length !== length) throw new RangeError('server name overrun');
    // host_name(0) is the only type defined; names are ASCII (punycode) per RFC 6066.
    if (nameType === 0) return name.toString('latin1');
    p += 3 + length;
  }
  return undefined;
}

function readAlpn(body: Buffer, out: string[]): void {
  let p = 2;
  while (p < body.length) {
    const length = byteAt(body, p);
    out.push(body.subarray(p + 1, p + 1 + length).toString('latin1'));
    p += 1 + length;
  }
}

function byteAt(buf: Buffer, index: number): number {
  const value = buf[index];
  if (value === undefined) throw new RangeError('truncated');
  return value;
}

/** A fatal TLS alert record; level 2 (fatal), description as given. */
export function tlsAlert(description: number): Buffer {
  return Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description]);
}

export const ALERT_UNRECOGNIZED_NAME = 112;
export const ALERT_HANDSHAKE_FAILURE = 40;
