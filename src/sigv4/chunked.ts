// aws-chunked bodies signed chunk by chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD and its
// -TRAILER form): every chunk header carries a signature chained from the previous one, the
// first from the request signature (the seed). sluice parses the framing as it streams,
// verifies each agent signature with the surrogate key, and writes the real-key signature in
// its place. Signatures are 64 hex digits either way, so lengths never change.
// A chunk's signature covers its data, which follows its header: each chunk is held until its
// last byte has arrived (memory: one chunk, capped), then released whole, header first.
// Format: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and
// sigv4-streaming-trailers.html.
import { createHash, type Hash } from 'node:crypto';
import { SluiceError } from '../errors/codes.ts';
import type { RequestBodyTransform } from '../pipeline/body.ts';
import { EMPTY_SHA256, hmacHex, sameSignature, sha256Hex } from './crypto.ts';

export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';

/** Longest chunk header line accepted ("<hex size>;chunk-signature=<64 hex>\r\n" is ~90 bytes). */
const MAX_CHUNK_LINE = 1024;
/** Largest trailer section accepted (a checksum and the trailer signature). */
const MAX_TRAILER = 16 * 1024;
const CHUNK_LINE = /^([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})\r\n$/;
const TRAILER_SIGNATURE = 'x-amz-trailer-signature';
const CRLF = Buffer.from('\r\n');

export function chunkSignature(key: Uint8Array, amzDate: string, scope: string, previous: string, dataSha256: string): string {
  return hmacHex(key, `AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${previous}\n${EMPTY_SHA256}\n${dataSha256}`);
}

/** `trailers`: the canonical trailing headers, each "name:value\n". */
export function trailerSignature(key: Uint8Array, amzDate: string, scope: string, previous: string, trailers: string): string {
  return hmacHex(key, `AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n${previous}\n${sha256Hex(trailers)}`);
}

export interface ChunkChain {
  /** The derived SigV4 signing key (kSigning) for the request's scope. */
  readonly signingKey: Uint8Array;
  /** The request signature the chain starts from. */
  readonly seed: string;
}

export interface ChunkResignerOptions {
  readonly amzDate: string;
  /** The credential scope string, DATE/REGION/SERVICE/aws4_request. */
  readonly scope: string;
  /** Verifies the agent's chunk signatures (surrogate key, agent's seed). */
  readonly agent: ChunkChain;
  /** Writes the real ones (real key, the re-signed request's seed). */
  readonly real: ChunkChain;
  readonly trailer: boolean;
  /** Larger chunks are refused with 413 (a chunk is held whole before it is released). */
  readonly maxChunkBytes: number;
  readonly credentialName: string;
}

type State = 'line' | 'data' | 'data-crlf' | 'final-crlf' | 'trailer' | 'done';

function malformed(message: string): SluiceError {
  return new SluiceError('bad_request', 400, `malformed aws-chunked body: ${message}`);
}

export function createChunkResigner(o: ChunkResignerOptions): RequestBodyTransform {
  let state: State = 'line';
  let line: Buffer[] = [];
  let lineBytes = 0;
  let chunkNumber = 0;
  let prevAgent = o.agent.seed;
  let prevReal = o.real.seed;
  // The chunk being held: its header (up to the signature), signature, data and running hash.
  let headPrefix = '';
  let agentSignature = '';
  let remaining = 0;
  let data: Buffer[] = [];
  let hash: Hash | undefined;
  let crlf = 0;

  const refuse = (what: string): SluiceError => new SluiceError(
    'bad_surrogate_signature', 403,
    `${what} of the aws-chunked body does not verify with the surrogate secret of credential "${o.credentialName}"`,
  );

  /** Verifies the held chunk and returns its re-signed header line (data follows). */
  const resignChunk = (dataSha256: string): Buffer | SluiceError => {
    chunkNumber++;
    const expected = chunkSignature(o.agent.signingKey, o.amzDate, o.scope, prevAgent, dataSha256);
    if (!sameSignature(expected, agentSignature)) return refuse(`the signature of chunk ${chunkNumber}`);
    const real = chunkSignature(o.real.signingKey, o.amzDate, o.scope, prevReal, dataSha256);
    prevAgent = agentSignature;
    prevReal = real;
    return Buffer.from(`${headPrefix}${real}\r\n`, 'latin1');
  };

  const onChunkLine = (text: string): Buffer | SluiceError | undefined => {
    const m = CHUNK_LINE.exec(text);
    if (m === null) return malformed('a chunk header is not "<hex size>;chunk-signature=<signature>"');
    const size = parseInt(m[1] as string, 16);
    if (size > o.maxChunkBytes) {
      return new SluiceError('body_too_large', 413, `an aws-chunked chunk of ${size} bytes exceeds the cap of ${o.maxChunkBytes} bytes`);
    }
    agentSignature = m[2] as string;
    headPrefix = text.slice(0, text.length - 2 - 64);
    if (size > 0) {
      state = 'data';
      remaining = size;
      data = [];
      hash = createHash('sha256');
      return undefined;
    }
    const head = resignChunk(EMPTY_SHA256);
    if (head instanceof SluiceError) return head;
    state = o.trailer ? 'trailer' : 'final-crlf';
    crlf = 0;
    return head;
  };

  /** The trailer section, if complete: verified, with the real signature in place. */
  const onTrailer = (raw: Buffer): Buffer | SluiceError | undefined => {
    const text = raw.toString('latin1');
    let signatureAt = -1;
    let signatureValue = '';
    let canonical = '';
    let at = 0;
    while (true) {
      const nl = text.indexOf('\n', at);
      if (nl < 0) return undefined;
      const lineText = text.slice(at, nl).replace(/\r$/, '');
      const lineStart = at;
      at = nl + 1;
      if (lineText === '') {
        // Some clients end checksum lines with LF and put a CRLF before the signature.
        if (signatureAt < 0) continue;
        if (at !== text.length) return malformed('bytes after the trailer');
        break;
      }
      const colon = lineText.indexOf(':');
      if (colon <= 0) return malformed('a trailer line is not "name:value"');
      const name = lineText.slice(0, colon).trim().toLowerCase();
      const value = lineText.slice(colon + 1).trim();
      if (name === TRAILER_SIGNATURE) {
        if (!/^[0-9a-f]{64}$/.test(value)) return malformed('x-amz-trailer-signature is not 64 hex digits');
        signatureAt = lineStart + lineText.indexOf(value, colon + 1);
        signatureValue = value;
      } else if (signatureAt >= 0) {
        return malformed('a trailer follows x-amz-trailer-signature');
      } else {
        canonical += `${name}:${value}\n`;
      }
    }
    const expected = trailerSignature(o.agent.signingKey, o.amzDate, o.scope, prevAgent, canonical);
    if (!sameSignature(expected, signatureValue)) return refuse('the trailer signature');
    const real = trailerSignature(o.real.signingKey, o.amzDate, o.scope, prevReal, canonical);
    state = 'done';
    return Buffer.from(`${text.slice(0, signatureAt)}${real}${text.slice(signatureAt + 64)}`, 'latin1');
  };

  const push = (chunk: Buffer): Buffer | SluiceError => {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      switch (state) {
        case 'line': {
          const nl = chunk.indexOf(0x0a, i);
          const end = nl < 0 ? chunk.length : nl + 1;
          lineBytes += end - i;
          if (lineBytes > MAX_CHUNK_LINE) return malformed('a chunk header line is too long');
          line.push(chunk.subarray(i, end));
          i = end;
          if (nl < 0) break;
          const text = Buffer.concat(line).toString('latin1');
          line = [];
          lineBytes = 0;
          const r = onChunkLine(text);
          if (r instanceof SluiceError) return r;
          if (r !== undefined) out.push(r);
          break;
        }
        case 'data': {
          const n = Math.min(remaining, chunk.length - i);
          const piece = chunk.subarray(i, i + n);
          hash?.update(piece);
          data.push(piece);
          remaining -= n;
          i += n;
          if (remaining === 0) {
            state = 'data-crlf';
            crlf = 0;
          }
          break;
        }
        case 'data-crlf':
        case 'final-crlf': {
          if (chunk[i] !== CRLF[crlf]) return malformed('a chunk does not end in CRLF');
          i++;
          crlf++;
          if (crlf < 2) break;
          if (state === 'final-crlf') {
            state = 'done';
            out.push(CRLF);
            break;
          }
          const head = resignChunk((hash as Hash).digest('hex'));
          if (head instanceof SluiceError) return head;
          out.push(head, ...data, CRLF);
          data = [];
          hash = undefined;
          state = 'line';
          break;
        }
        case 'trailer': {
          lineBytes += chunk.length - i;
          if (lineBytes > MAX_TRAILER) return malformed('the trailer section is too long');
          line.push(chunk.subarray(i));
          i = chunk.length;
          const r = onTrailer(Buffer.concat(line));
          if (r instanceof SluiceError) return r;
          if (r !== undefined) out.push(r);
          break;
        }
        case 'done':
          return malformed('bytes after the final chunk');
      }
    }
    return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
  };

  return {
    name: 'sigv4-chunks',
    changesLength: false,
    push,
    end() {
      if (state !== 'done') return malformed('the body ended before its final chunk');
      return Buffer.alloc(0);
    },
  };
}
