// The log's copy of one request body: the bytes the agent sent, kept up to a cap (the agent's
// bytes go upstream untouched whatever the cap), decoded if the agent compressed them. What it
// keeps is drawn from the shared buffer budget (pipeline/buffer-budget.ts): when the budget is
// spent, the copy stops there and the log says truncated; the agent's request is unaffected.
// The share is given back by text() (the log line is being built) or release().
import zlib from 'node:zlib';
import { sharedBufferBudget, type BufferBudget, type BufferReservation } from '../../pipeline/buffer-budget.ts';

export class RequestCapture {
  readonly #max: number;
  #chunks: Buffer[] = [];
  #bytes = 0;
  readonly #reservation: BufferReservation;
  truncated = false;

  constructor(maxBytes: number, budget: BufferBudget = sharedBufferBudget) {
    this.#max = maxBytes;
    this.#reservation = budget.open(this);
  }

  /** Bytes of the budget this capture holds now. */
  get reservedBytes(): number {
    return this.#reservation.bytes;
  }

  /** Drops the copy and gives its share of the budget back; the capture keeps no more. */
  release(): void {
    if (this.#text === undefined && this.#bytes > 0) this.truncated = true;
    this.#chunks = [];
    this.#reservation.release();
  }

  push(chunk: Buffer): void {
    if (this.truncated || this.#reservation.released) return;
    const room = this.#max - this.#bytes;
    const keep = Math.min(chunk.length, Math.max(room, 0));
    if (keep > 0 && !this.#reservation.grow(keep)) {
      this.truncated = true;
      return;
    }
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

  /**
   * The body as text; a compressed body is decoded when complete (a cut one cannot be). Read
   * once, when the log line is built: the copy is dropped and the budget given back, and later
   * calls return the same text.
   */
  text(contentEncoding: string | undefined): string {
    if (this.#text === undefined) {
      this.#text = this.#decode(contentEncoding);
      this.#chunks = [];
      this.#reservation.release();
    }
    return this.#text;
  }

  #text: string | undefined;

  #decode(contentEncoding: string | undefined): string {
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
