// The hashing SigV4 needs, on node:crypto: a Sha256 class in the shape @smithy/signature-v4
// expects (hash when built without a key, HMAC with one), plus the synchronous helpers the
// chunk re-signer uses while a body streams (a transform cannot await).
import { createHash, createHmac, timingSafeEqual, type BinaryLike } from 'node:crypto';

/** What the signer hands a hash: a key or data, as a string or bytes. */
type SourceData = string | ArrayBuffer | ArrayBufferView;

/** SHA-256 (or HMAC-SHA-256 when given a secret) for `new SignatureV4({ sha256: Sha256 })`. */
export class Sha256 {
  private readonly secret: SourceData | undefined;
  private hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: SourceData) {
    this.secret = secret;
    this.hash = Sha256.make(secret);
  }
  private static make(secret: SourceData | undefined): ReturnType<typeof createHash> | ReturnType<typeof createHmac> {
    return secret === undefined ? createHash('sha256') : createHmac('sha256', toBinary(secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {
    this.hash = Sha256.make(this.secret);
  }
}

function toBinary(data: SourceData): BinaryLike {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hmacHex(key: Uint8Array, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/** Compares two hex signatures in constant time (for equal lengths; a length differs in public). */
export function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
