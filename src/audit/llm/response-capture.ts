// The log's copy of one response body: it receives the bytes exactly as the agent gets them
// (possibly compressed), decodes them for the log only (gzip, deflate, br, zstd; streaming
// zlib, off the agent's path), and folds them into the provider's response shape: SSE events
// through the provider's reassembler, JSON and anything else as bounded text. It never throws
// into the data path and never holds more than `maxBodyChars` of text.
// What it holds is drawn from the shared buffer budget (pipeline/buffer-budget.ts), growing
// with the bytes it is handed up to what one exchange can hold at most: when the budget is
// spent, the copy stops there (truncated: true); the agent's response is unaffected. The share
// is given back by result(), abandon() or release().
import type { Transform } from 'node:stream';
import { TextDecoder } from 'node:util';
import type { ResponseHeaders } from '../../pipeline/body.ts';
import { createResponseDecoder } from '../../upstream/response-decoder.ts';
import { TextBudget, type ProviderCodec, type StreamAssembler } from './assembler.ts';
import { BoundedText, bodyForLog } from './raw.ts';
import { SseParser } from './sse.ts';
import { NO_USAGE, type UsageReading } from './usage.ts';
import { sharedBufferBudget, type BufferBudget, type BufferReservation } from '../../pipeline/buffer-budget.ts';

export interface CapturedResponse {
  response: unknown;
  usage: UsageReading;
  /** The body was text/event-stream. */
  sse: boolean;
  truncated: boolean;
  /** The body carried an error event (a stream that failed after a 200). */
  failed: boolean;
}

/** Compressed bytes waiting for zlib beyond this are not decoded for the log (truncated). */
const MAX_DECODER_BACKLOG = 8 * 1024 * 1024;

function header(headers: ResponseHeaders, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

export class ResponseCapture {
  readonly #codec: ProviderCodec | undefined;
  readonly #maxChars: number;
  #text: TextDecoder = new TextDecoder();
  #decoder: Transform | undefined;
  #assembler: StreamAssembler | undefined;
  #budget: TextBudget;
  #sse: SseParser | undefined;
  #body: BoundedText;
  #truncated = false;
  /** The body is in an encoding sluice cannot decode: not logged. */
  #skip = false;
  #ended = false;
  #onSettled: (() => void) | undefined;
  readonly #reservation: BufferReservation;
  /** The most one exchange's copy holds at once: its text, one SSE event, the decoder's backlog. */
  readonly #reserveCap: number;

  constructor(codec: ProviderCodec | undefined, maxBodyChars: number, budget: BufferBudget = sharedBufferBudget) {
    this.#codec = codec;
    this.#maxChars = maxBodyChars;
    this.#budget = new TextBudget(maxBodyChars);
    this.#body = new BoundedText(maxBodyChars);
    this.#reservation = budget.open(this);
    this.#reserveCap = 3 * maxBodyChars + 64 * 1024 + MAX_DECODER_BACKLOG;
  }

  /** Bytes of the budget this capture holds now. */
  get reservedBytes(): number {
    return this.#reservation.bytes;
  }

  /** Gives the budget back; nothing more is captured. */
  release(): void {
    this.#reservation.release();
  }

  /** Grows the reservation for `bytes` more; when the budget is spent, capturing stops. */
  #reserve(bytes: number): boolean {
    const want = Math.min(this.#reservation.bytes + bytes, this.#reserveCap) - this.#reservation.bytes;
    if (want <= 0 || this.#reservation.grow(want)) return true;
    this.#truncated = true;
    this.#skip = true;
    return false;
  }

  /** Response headers as the agent gets them: they say whether and how the body is encoded. */
  start(headers: ResponseHeaders): void {
    const type = header(headers, 'content-type').toLowerCase();
    if (type.startsWith('text/event-stream')) {
      this.#assembler = this.#codec?.createStreamAssembler(this.#budget);
      // Raw SSE (no codec) is kept as text; known APIs are parsed event by event.
      if (this.#assembler !== undefined) {
        const assembler = this.#assembler;
        // One event may repeat the whole answer (OpenAI's response.completed): allow room for it.
        this.#sse = new SseParser((event) => assembler.event(event), { maxEventChars: 2 * this.#maxChars + 64 * 1024 });
      }
    }
    const encoding = header(headers, 'content-encoding');
    if (encoding !== '') {
      const decoder = createResponseDecoder(encoding);
      if (decoder === undefined) {
        // An encoding sluice cannot read: the log says so instead of holding binary noise.
        this.#truncated = true;
        this.#sse = undefined;
        this.#assembler = undefined;
        this.#skip = true;
        return;
      }
      this.#decoder = decoder;
      decoder.on('data', (chunk: Buffer) => this.#decoded(chunk));
      decoder.on('error', () => {
        // A cut or corrupt compressed body: keep what was decoded so far.
        this.#truncated = this.#truncated || !this.#ended;
        this.#settle();
      });
      decoder.once('end', () => this.#settle());
    }
  }

  /** A chunk as the agent got it. */
  data(chunk: Buffer): void {
    if (this.#skip || this.#ended || !this.#reserve(chunk.length)) return;
    const decoder = this.#decoder;
    if (decoder === undefined) {
      this.#decoded(chunk);
      return;
    }
    // A corrupt body stopped the decoder: the rest cannot be read either.
    if (decoder.destroyed) return;
    if (decoder.writableLength > MAX_DECODER_BACKLOG) {
      this.#truncated = true;
      return;
    }
    decoder.write(chunk);
  }

  #decoded(chunk: Buffer): void {
    const text = this.#text.decode(chunk, { stream: true });
    if (text.length === 0) return;
    if (this.#sse !== undefined) this.#sse.push(text);
    else this.#body.push(text);
  }

  /** The body ended (or was cut): `settled` runs once every decoded byte has been folded in. */
  end(settled: () => void): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#onSettled = settled;
    if (this.#decoder === undefined || this.#decoder.destroyed) this.#settle();
    else this.#decoder.end();
  }

  /** Stops decoding at once (shutdown): what was folded in so far is all the log gets. */
  abandon(): void {
    this.#ended = true;
    this.#onSettled = undefined;
    this.#reservation.release();
    if (this.#decoder !== undefined) {
      this.#decoder.removeAllListeners('data');
      this.#decoder.destroy();
    }
  }

  #settle(): void {
    const settled = this.#onSettled;
    this.#onSettled = undefined;
    settled?.();
  }

  result(): CapturedResponse {
    this.#reservation.release();
    const tail = this.#text.decode();
    if (tail.length > 0) {
      if (this.#sse !== undefined) this.#sse.push(tail);
      else this.#body.push(tail);
    }
    this.#text = new TextDecoder();
    const truncated = this.#truncated || this.#budget.truncated || this.#body.truncated || (this.#sse?.dropped ?? 0) > 0;
    if (this.#assembler !== undefined) {
      const response = this.#assembler.result();
      return { response, usage: this.#codec?.usageOf(response) ?? NO_USAGE, sse: true, truncated, failed: this.#assembler.failed };
    }
    let response = bodyForLog(this.#body.text(), truncated);
    const parsed = typeof response === 'object' && response !== null;
    if (parsed && this.#codec?.fromJson !== undefined) response = this.#codec.fromJson(response);
    const usage = parsed && this.#codec !== undefined ? this.#codec.usageOf(response) : NO_USAGE;
    return { response, usage, sse: false, truncated, failed: false };
  }
}
