// Anthropic Messages streaming (https://docs.anthropic.com/en/api/messages-streaming) folded
// back into the Message object the non-streaming API returns: message_start carries the
// envelope, content blocks are built from content_block_start/delta/stop (text_delta,
// input_json_delta whose tool input is parsed at the block's end, thinking_delta,
// signature_delta, citations_delta), message_delta brings stop_reason and the final usage
// counts, `error` marks the exchange failed, `ping` carries nothing.
import type { ProviderCodec, StreamAssembler, TextBudget } from './assembler.ts';
import { isObject, parseEventData, parseToolArguments, type Json } from './json.ts';
import type { SseEvent } from './sse.ts';
import { anthropicUsage, NO_USAGE } from './usage.ts';

class AnthropicAssembler implements StreamAssembler {
  readonly #budget: TextBudget;
  #message: Json | undefined;
  #content: Json[] = [];
  /** Tool input JSON text per block index, until the block stops. */
  readonly #toolJson = new Map<number, string>();
  #error: unknown;
  failed = false;

  constructor(budget: TextBudget) {
    this.#budget = budget;
  }

  event(sse: SseEvent): void {
    const data = parseEventData(sse.data);
    if (data === undefined) return;
    const type = typeof data.type === 'string' ? data.type : sse.event;
    const index = typeof data.index === 'number' ? data.index : -1;
    switch (type) {
      case 'message_start':
        if (isObject(data.message)) {
          this.#message = { ...data.message };
          this.#content = Array.isArray(data.message.content) ? [...(data.message.content as Json[])] : [];
          if (isObject(data.message.usage)) this.#message.usage = { ...data.message.usage };
        }
        return;
      case 'content_block_start':
        if (index >= 0 && isObject(data.content_block)) this.#content[index] = { ...data.content_block };
        return;
      case 'content_block_delta':
        if (isObject(data.delta)) this.#delta(index, data.delta);
        return;
      case 'content_block_stop':
        this.#closeTool(index);
        return;
      case 'message_delta':
        this.#messageDelta(data);
        return;
      case 'error':
        this.failed = true;
        this.#error = data.error ?? data;
        return;
      default:
        // ping, message_stop, and event types added later: nothing to fold in.
        return;
    }
  }

  #delta(index: number, delta: Json): void {
    const block = this.#content[index];
    if (block === undefined) return;
    switch (delta.type) {
      case 'text_delta':
        block.text = String(block.text ?? '') + this.#budget.fit(String(delta.text ?? ''));
        return;
      case 'thinking_delta':
        block.thinking = String(block.thinking ?? '') + this.#budget.fit(String(delta.thinking ?? ''));
        return;
      case 'signature_delta':
        block.signature = String(block.signature ?? '') + String(delta.signature ?? '');
        return;
      case 'input_json_delta':
        this.#toolJson.set(index, (this.#toolJson.get(index) ?? '') + this.#budget.fit(String(delta.partial_json ?? '')));
        return;
      case 'citations_delta':
        block.citations = [...(Array.isArray(block.citations) ? block.citations : []), delta.citation];
        return;
      default:
        return;
    }
  }

  #closeTool(index: number): void {
    const json = this.#toolJson.get(index);
    const block = this.#content[index];
    if (json === undefined || block === undefined) return;
    this.#toolJson.delete(index);
    block.input = parseToolArguments(json);
  }

  #messageDelta(data: Json): void {
    if (this.#message === undefined) return;
    if (isObject(data.delta)) {
      for (const [key, value] of Object.entries(data.delta)) this.#message[key] = value;
    }
    if (isObject(data.usage)) {
      // message_delta usage counts are cumulative totals: overwrite, never add.
      const usage = isObject(this.#message.usage) ? this.#message.usage : {};
      for (const [key, value] of Object.entries(data.usage)) if (value !== null && value !== undefined) usage[key] = value;
      this.#message.usage = usage;
    }
  }

  result(): unknown {
    for (const index of [...this.#toolJson.keys()]) this.#closeTool(index);
    if (this.#message === undefined) return this.#error === undefined ? undefined : { type: 'error', error: this.#error };
    const message: Json = { ...this.#message, content: this.#content.filter((b) => b !== undefined) };
    if (this.#error !== undefined) message.error = this.#error;
    return message;
  }
}

export const anthropicCodec: ProviderCodec = {
  createStreamAssembler: (budget) => new AnthropicAssembler(budget),
  usageOf: (response) => (isObject(response) ? anthropicUsage(response.usage) : NO_USAGE),
};
