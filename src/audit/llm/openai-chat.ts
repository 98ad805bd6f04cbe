// OpenAI Chat Completions streaming (chat.completion.chunk objects, then `data: [DONE]`)
// folded back into the chat.completion object the non-streaming API returns: per choice the
// deltas' role, content, refusal and tool calls (merged by their `index`; arguments stay the
// JSON text the API sends), the last finish_reason, and `usage` from the final chunk when the
// request asked for stream_options.include_usage.
import type { ProviderCodec, StreamAssembler, TextBudget } from './assembler.ts';
import { isObject, parseEventData, type Json } from './json.ts';
import type { SseEvent } from './sse.ts';
import { NO_USAGE, openaiChatUsage } from './usage.ts';

interface ChoiceSnapshot {
  index: number;
  message: Json;
  toolCalls: Json[];
  logprobs: unknown;
  finish_reason: unknown;
}

class OpenAiChatAssembler implements StreamAssembler {
  readonly #budget: TextBudget;
  #envelope: Json | undefined;
  readonly #choices: ChoiceSnapshot[] = [];
  #error: unknown;
  failed = false;

  constructor(budget: TextBudget) {
    this.#budget = budget;
  }

  event(sse: SseEvent): void {
    if (sse.data.trim() === '[DONE]') return;
    const chunk = parseEventData(sse.data);
    if (chunk === undefined) return;
    if (chunk.error !== undefined) {
      // An error object in the stream (e.g. server_error mid-way).
      this.failed = true;
      this.#error = chunk.error;
      return;
    }
    const { choices, ...rest } = chunk;
    this.#envelope = { ...(this.#envelope ?? {}), ...rest };
    if (!Array.isArray(choices)) return;
    for (const choice of choices) if (isObject(choice)) this.#choice(choice);
  }

  #choice(choice: Json): void {
    const index = typeof choice.index === 'number' ? choice.index : 0;
    let snap = this.#choices[index];
    if (snap === undefined) {
      snap = { index, message: {}, toolCalls: [], logprobs: choice.logprobs ?? null, finish_reason: null };
      this.#choices[index] = snap;
    }
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) snap.finish_reason = choice.finish_reason;
    if (isObject(choice.logprobs) && isObject(snap.logprobs) && Array.isArray(choice.logprobs.content)) {
      const content = Array.isArray(snap.logprobs.content) ? snap.logprobs.content : [];
      snap.logprobs = { ...snap.logprobs, content: [...content, ...choice.logprobs.content] };
    } else if (choice.logprobs !== null && choice.logprobs !== undefined && snap.logprobs === null) {
      snap.logprobs = choice.logprobs;
    }
    const delta = choice.delta;
    if (!isObject(delta)) return;
    const { content, refusal, role, tool_calls: toolCalls, ...other } = delta;
    Object.assign(snap.message, other);
    if (typeof role === 'string') snap.message.role = role;
    if (typeof content === 'string') snap.message.content = String(snap.message.content ?? '') + this.#budget.fit(content);
    if (typeof refusal === 'string') snap.message.refusal = String(snap.message.refusal ?? '') + this.#budget.fit(refusal);
    if (Array.isArray(toolCalls)) for (const call of toolCalls) if (isObject(call)) this.#toolCall(snap, call);
  }

  #toolCall(snap: ChoiceSnapshot, call: Json): void {
    const i = typeof call.index === 'number' ? call.index : snap.toolCalls.length;
    const { index: _index, function: fn, ...rest } = call;
    const target = snap.toolCalls[i] ?? {};
    snap.toolCalls[i] = target;
    for (const [key, value] of Object.entries(rest)) if (value !== null && value !== undefined) target[key] = value;
    if (isObject(fn)) {
      const f = isObject(target.function) ? target.function : { name: '', arguments: '' };
      if (typeof fn.name === 'string' && fn.name !== '') f.name = fn.name;
      if (typeof fn.arguments === 'string') f.arguments = String(f.arguments ?? '') + this.#budget.fit(fn.arguments);
      target.function = f;
    }
  }

  result(): unknown {
    if (this.#envelope === undefined) return this.#error === undefined ? undefined : { error: this.#error };
    const choices = this.#choices.filter((c) => c !== undefined).map((c) => {
      const message: Json = { ...c.message, role: c.message.role ?? 'assistant', content: c.message.content ?? null, refusal: c.message.refusal ?? null };
      if (c.toolCalls.length > 0) message.tool_calls = c.toolCalls.filter((t) => t !== undefined);
      return { index: c.index, message, logprobs: c.logprobs, finish_reason: c.finish_reason };
    });
    const response: Json = { ...this.#envelope, object: 'chat.completion', choices };
    if (this.#error !== undefined) response.error = this.#error;
    return response;
  }
}

export const openaiChatCodec: ProviderCodec = {
  createStreamAssembler: (budget) => new OpenAiChatAssembler(budget),
  usageOf: (response) => (isObject(response) ? openaiChatUsage(response.usage) : NO_USAGE),
};
