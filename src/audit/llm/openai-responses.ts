// OpenAI Responses API streaming (`response.*` events) folded back into the response object
// the non-streaming API returns. The terminal event (response.completed / .incomplete /
// .failed) already carries the whole response; the output items built from the deltas stand
// in for it when the stream is cut before that event, or when the log's text budget ran out.
import type { ProviderCodec, StreamAssembler, TextBudget } from './assembler.ts';
import { isObject, parseEventData, type Json } from './json.ts';
import type { SseEvent } from './sse.ts';
import { NO_USAGE, openaiResponsesUsage } from './usage.ts';

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

class OpenAiResponsesAssembler implements StreamAssembler {
  readonly #budget: TextBudget;
  #response: Json | undefined;
  #final = false;
  readonly #output: Json[] = [];
  #error: unknown;
  failed = false;

  constructor(budget: TextBudget) {
    this.#budget = budget;
  }

  event(sse: SseEvent): void {
    const data = parseEventData(sse.data);
    if (data === undefined) return;
    const type = typeof data.type === 'string' ? data.type : sse.event;
    const at = typeof data.output_index === 'number' ? data.output_index : -1;
    if (type === 'response.created' || type === 'response.in_progress' || TERMINAL.has(type)) {
      if (isObject(data.response)) this.#response = data.response;
      if (TERMINAL.has(type)) this.#final = true;
      if (type === 'response.failed') this.failed = true;
      return;
    }
    switch (type) {
      case 'error':
        this.failed = true;
        this.#error = { code: data.code, message: data.message, param: data.param };
        return;
      case 'response.output_item.added':
        if (at >= 0 && isObject(data.item)) this.#output[at] = { ...data.item };
        return;
      case 'response.output_item.done':
        // The finished item repeats the streamed text; keep ours if the log's budget cut it.
        if (at >= 0 && isObject(data.item) && !this.#budget.truncated) this.#output[at] = data.item;
        return;
      case 'response.content_part.added':
        this.#part(at, data, (content, index) => {
          if (isObject(data.part)) content[index] = { ...data.part };
        });
        return;
      case 'response.output_text.delta':
        this.#part(at, data, (content, index) => {
          const part = content[index] ?? { type: 'output_text', text: '', annotations: [] };
          part.text = String(part.text ?? '') + this.#budget.fit(String(data.delta ?? ''));
          content[index] = part;
        });
        return;
      case 'response.refusal.delta':
        this.#part(at, data, (content, index) => {
          const part = content[index] ?? { type: 'refusal', refusal: '' };
          part.refusal = String(part.refusal ?? '') + this.#budget.fit(String(data.delta ?? ''));
          content[index] = part;
        });
        return;
      case 'response.function_call_arguments.delta': {
        const item = this.#output[at];
        if (item !== undefined) item.arguments = String(item.arguments ?? '') + this.#budget.fit(String(data.delta ?? ''));
        return;
      }
      default:
        // Reasoning summaries, tool progress and newer event types arrive whole in output_item.done.
        return;
    }
  }

  #part(at: number, data: Json, apply: (content: Json[], index: number) => void): void {
    const item = this.#output[at];
    const index = typeof data.content_index === 'number' ? data.content_index : -1;
    if (item === undefined || index < 0) return;
    const content = Array.isArray(item.content) ? (item.content as Json[]) : [];
    apply(content, index);
    item.content = content;
  }

  result(): unknown {
    const output = this.#output.filter((o) => o !== undefined);
    if (this.#response === undefined) return this.#error === undefined ? undefined : { error: this.#error };
    const response: Json = { ...this.#response };
    if (!this.#final || this.#budget.truncated || !Array.isArray(response.output) || response.output.length === 0) {
      if (output.length > 0 || !Array.isArray(response.output)) response.output = output;
    }
    if (this.#error !== undefined) response.error = this.#error;
    return response;
  }
}

export const openaiResponsesCodec: ProviderCodec = {
  createStreamAssembler: (budget) => new OpenAiResponsesAssembler(budget),
  usageOf: (response) => (isObject(response) ? openaiResponsesUsage(response.usage) : NO_USAGE),
};
