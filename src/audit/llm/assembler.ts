// What every provider module offers the LLM log: a reassembler that turns a stream of SSE
// events into the response the provider would have sent without streaming, and a reading of
// token usage from that response. The reassembled text is bounded by a shared budget so a
// long answer costs the log at most `max_body_bytes` of memory per exchange.
import type { SseEvent } from './sse.ts';
import type { UsageReading } from './usage.ts';

export interface StreamAssembler {
  /** One server-sent event, in arrival order. */
  event(event: SseEvent): void;
  /** The non-streaming response shape, as far as the stream got. */
  result(): unknown;
  /** The stream carried an error event (the exchange is logged with outcome "error"). */
  readonly failed: boolean;
}

export interface ProviderCodec {
  createStreamAssembler(budget: TextBudget): StreamAssembler;
  /** A JSON (non-SSE) response body as the log should hold it (Gemini merges its JSON arrays). */
  fromJson?(body: unknown): unknown;
  usageOf(response: unknown): UsageReading;
}

/** Characters of reassembled text an exchange may still keep; beyond, text is cut. */
export class TextBudget {
  #left: number;
  truncated = false;

  constructor(maxChars: number) {
    this.#left = maxChars;
  }

  /** `text`, or the prefix of it that still fits (the budget then records the cut). */
  fit(text: string): string {
    if (text.length <= this.#left) {
      this.#left -= text.length;
      return text;
    }
    this.truncated = true;
    const kept = text.slice(0, Math.max(0, this.#left));
    this.#left = 0;
    return kept;
  }
}
