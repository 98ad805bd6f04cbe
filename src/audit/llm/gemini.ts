// Gemini generateContent / streamGenerateContent. Streamed with `?alt=sse`, each event is a
// whole GenerateContentResponse carrying the next piece of each candidate; without it, the
// body is a JSON array of the same objects. Both fold into the single GenerateContentResponse
// the non-streaming call returns: consecutive text parts joined, function calls kept whole,
// the last finishReason, safety ratings, usageMetadata and modelVersion.
import { TextBudget, type ProviderCodec, type StreamAssembler } from './assembler.ts';
import { isObject, parseEventData, type Json } from './json.ts';
import type { SseEvent } from './sse.ts';
import { geminiUsage, NO_USAGE } from './usage.ts';

class GeminiMerger {
  readonly #budget: TextBudget;
  #envelope: Json | undefined;
  readonly #candidates: Json[] = [];
  error: unknown;

  constructor(budget: TextBudget) {
    this.#budget = budget;
  }

  add(chunk: Json): void {
    if (chunk.error !== undefined) {
      this.error = chunk.error;
      return;
    }
    const { candidates, ...rest } = chunk;
    this.#envelope = { ...(this.#envelope ?? {}), ...rest };
    if (!Array.isArray(candidates)) return;
    candidates.forEach((candidate: unknown, position) => {
      if (!isObject(candidate)) return;
      const index = typeof candidate.index === 'number' ? candidate.index : position;
      this.#candidate(index, candidate);
    });
  }

  #candidate(index: number, incoming: Json): void {
    const { content, ...rest } = incoming;
    const target = this.#candidates[index] ?? {};
    this.#candidates[index] = target;
    Object.assign(target, rest);
    if (!isObject(content)) return;
    const merged = isObject(target.content) ? target.content : {};
    if (content.role !== undefined) merged.role = content.role;
    const parts = Array.isArray(merged.parts) ? (merged.parts as Json[]) : [];
    if (Array.isArray(content.parts)) for (const part of content.parts) if (isObject(part)) this.#part(parts, part);
    merged.parts = parts;
    target.content = merged;
  }

  #part(parts: Json[], part: Json): void {
    const last = parts.at(-1);
    const isText = (p: Json | undefined): p is Json => p !== undefined && typeof p.text === 'string' && Object.keys(p).every((k) => k === 'text' || k === 'thought');
    if (typeof part.text === 'string' && isText(last) && last.thought === part.thought && isText(part)) {
      last.text = String(last.text) + this.#budget.fit(part.text);
      return;
    }
    parts.push(typeof part.text === 'string' ? { ...part, text: this.#budget.fit(part.text) } : part);
  }

  result(): unknown {
    if (this.#envelope === undefined) return this.error === undefined ? undefined : { error: this.error };
    const response: Json = { candidates: this.#candidates.filter((c) => c !== undefined), ...this.#envelope };
    if (this.error !== undefined) response.error = this.error;
    return response;
  }
}

class GeminiAssembler implements StreamAssembler {
  readonly #merger: GeminiMerger;

  constructor(budget: TextBudget) {
    this.#merger = new GeminiMerger(budget);
  }

  get failed(): boolean {
    return this.#merger.error !== undefined;
  }

  event(sse: SseEvent): void {
    const chunk = parseEventData(sse.data);
    if (chunk !== undefined) this.#merger.add(chunk);
  }

  result(): unknown {
    return this.#merger.result();
  }
}

export const geminiCodec: ProviderCodec = {
  createStreamAssembler: (budget) => new GeminiAssembler(budget),
  // streamGenerateContent without alt=sse answers a JSON array of partial responses.
  fromJson(body) {
    if (!Array.isArray(body)) return body;
    const merger = new GeminiMerger(new TextBudget(Number.MAX_SAFE_INTEGER));
    for (const chunk of body) if (isObject(chunk)) merger.add(chunk);
    return merger.result();
  },
  usageOf: (response) => (isObject(response) ? geminiUsage(response.usageMetadata) : NO_USAGE),
};

/** The model named in a Gemini path: /v1beta/models/gemini-2.0-flash:streamGenerateContent. */
export function geminiModelFromPath(path: string): string | undefined {
  const match = /\/models\/([^/:?]+)(?::|$|\?)/.exec(path);
  return match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
}
