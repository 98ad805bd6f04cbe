// The log's copy of one request body: the bytes the agent sent, kept up to a cap (the agent's
// bytes go upstream untouched whatever the cap), decoded if the agent compressed them.
import zlib from 'node:zlib';

export class RequestCapture {
  readonly #max: number;
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  truncated = false;

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  push(chunk: Buffer): void {
    if (this.truncated) return;
    const room = this.#max - this.#bytes;
    if (chunk.length > room) {
      this.truncated = true;
      if (room > 0) this.#chunks.push(Buffer.from(chunk.subarray(0, room)));
      this.#bytes = this.#max;
      return;
    }
    // Node hands each body chunk over in a buffer of its own: keeping a reference is safe.
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
  }

  /** The body as text; a compressed body is decoded when complete (a cut one cannot be). */
  text(contentEncoding: string | undefined): string {
    const body = Buffer.concat(this.#chunks);
    const coding = (contentEncoding ?? '').trim().toLowerCase();
    if (coding === '' || coding === 'identity') return body.toString('utf8');
    if (this.truncated) return '';
    const options = { maxOutputLength: this.#max };
    try {
      switch (coding) {
        case 'gzip':
        case 'x-gzip':
          return zlib.gunzipSync(body, options).toString('utf8');
        case 'deflate':
          return zlib.inflateSync(body, options).toString('utf8');
        case 'br':
          return zlib.brotliDecompressSync(body, options).toString('utf8');
        case 'zstd':
          return zlib.zstdDecompressSync(body, options).toString('utf8');
        default:
          return '';
      }
    } catch {
      // Larger than the cap once decoded, or corrupt: the log says truncated.
      this.truncated = true;
      return '';
    }
  }
}
