// An incremental parser for text/event-stream (WHATWG HTML, "Server-sent events", §9.2.6),
// fed whatever text each network write carried: an event may be split across writes, one
// write may carry several events, lines may end in CRLF, LF or a lone CR (a CRLF itself may be
// split between two writes). Comments (":" lines) and `retry` are skipped. Memory is bounded:
// an event larger than `maxEventChars` is dropped and counted, never buffered without limit.

export interface SseEvent {
  /** The `event:` field, or "message" when absent (the spec's default type). */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  id: string | undefined;
}

export interface SseParserOptions {
  /** Largest event (line buffer + data) kept; a larger one is dropped. Default 16 MiB. */
  maxEventChars?: number;
}

const DEFAULT_MAX_EVENT_CHARS = 16 * 1024 * 1024;

export class SseParser {
  readonly #onEvent: (event: SseEvent) => void;
  readonly #max: number;
  /** Text of an unfinished line. */
  #pending = '';
  /** The previous write ended in CR: a LF starting the next one belongs to that line end. */
  #skipLeadingLf = false;
  #data: string[] = [];
  #dataChars = 0;
  #event = '';
  #id: string | undefined;
  /** The current event overflowed: ignore its lines until the blank line that ends it. */
  #discarding = false;
  /** Events dropped for exceeding the size bound. */
  dropped = 0;

  constructor(onEvent: (event: SseEvent) => void, options: SseParserOptions = {}) {
    this.#onEvent = onEvent;
    this.#max = options.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS;
  }

  push(text: string): void {
    let start = 0;
    if (this.#skipLeadingLf && text.length > 0) {
      if (text.charCodeAt(0) === 10) start = 1;
      this.#skipLeadingLf = false;
    }
    let pos = start;
    while (pos < text.length) {
      const lf = text.indexOf('\n', pos);
      const cr = text.indexOf('\r', pos);
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (end === -1) break;
      const line = this.#pending.length > 0 ? this.#pending + text.slice(pos, end) : text.slice(pos, end);
      this.#pending = '';
      if (text.charCodeAt(end) === 13 && end + 1 < text.length && text.charCodeAt(end + 1) === 10) {
        pos = end + 2;
      } else {
        // A CR at the very end of a write may be the first half of a CRLF.
        if (text.charCodeAt(end) === 13 && end + 1 === text.length) this.#skipLeadingLf = true;
        pos = end + 1;
      }
      this.#line(line);
    }
    if (pos < text.length) {
      if (this.#pending.length + (text.length - pos) > this.#max) {
        // A line longer than any event we keep: drop it and the rest of its event.
        this.#pending = '';
        this.#startDiscarding();
      } else {
        this.#pending += text.slice(pos);
      }
    }
  }

  /** The stream ended: an unterminated event is discarded, as the spec says. */
  end(): void {
    this.#pending = '';
    this.#reset();
  }

  #line(line: string): void {
    if (line.length === 0) {
      this.#dispatch();
      return;
    }
    if (this.#discarding || line.charCodeAt(0) === 58 /* ':' comment */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data':
        this.#dataChars += value.length + 1;
        if (this.#dataChars > this.#max) {
          this.#startDiscarding();
          return;
        }
        this.#data.push(value);
        return;
      case 'event':
        this.#event = value;
        return;
      case 'id':
        if (!value.includes('\0')) this.#id = value;
        return;
      default:
        // `retry` and unknown fields carry nothing a log needs.
        return;
    }
  }

  #startDiscarding(): void {
    if (!this.#discarding) this.dropped++;
    this.#discarding = true;
    this.#data = [];
    this.#dataChars = 0;
  }

  #dispatch(): void {
    const discarded = this.#discarding;
    const hasData = this.#data.length > 0;
    const event: SseEvent = { event: this.#event === '' ? 'message' : this.#event, data: this.#data.join('\n'), id: this.#id };
    this.#reset();
    if (!discarded && hasData) this.#onEvent(event);
  }

  #reset(): void {
    this.#data = [];
    this.#dataChars = 0;
    this.#event = '';
    this.#discarding = false;
  }
}
