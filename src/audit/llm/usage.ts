// Token usage normalised across providers (DESIGN.md §4), named like the OpenTelemetry GenAI
// attributes: input_tokens / output_tokens (gen_ai.usage.*). OpenAI's prompt/completion tokens
// and Gemini's promptTokenCount/candidatesTokenCount become input/output; the provider's own
// object is kept beside it as usage_raw.
import { isObject, type Json } from './json.ts';

export interface NormalisedUsage {
  input_tokens: number;
  output_tokens: number;
  total_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
  reasoning_tokens?: number;
}

export interface UsageReading {
  usage: NormalisedUsage | undefined;
  raw: unknown;
}

export const NO_USAGE: UsageReading = { usage: undefined, raw: undefined };

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function nested(obj: Json, key: string, inner: string): number | undefined {
  const child = obj[key];
  return isObject(child) ? num(child[inner]) : undefined;
}

/** Drops absent optional counts so a log line carries only what the provider said. */
function compact(usage: NormalisedUsage): NormalisedUsage {
  const out: NormalisedUsage = { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens };
  if (usage.total_tokens !== undefined) out.total_tokens = usage.total_tokens;
  if (usage.cache_read_input_tokens !== undefined) out.cache_read_input_tokens = usage.cache_read_input_tokens;
  if (usage.cache_creation_input_tokens !== undefined) out.cache_creation_input_tokens = usage.cache_creation_input_tokens;
  if (usage.reasoning_tokens !== undefined) out.reasoning_tokens = usage.reasoning_tokens;
  return out;
}

/** Anthropic Messages: `usage` is already input/output (cache counts beside, not included). */
export function anthropicUsage(raw: unknown): UsageReading {
  if (!isObject(raw)) return NO_USAGE;
  const cacheCreation = num(raw.cache_creation_input_tokens);
  const cacheRead = num(raw.cache_read_input_tokens);
  return {
    raw,
    usage: compact({
      input_tokens: num(raw.input_tokens) ?? 0,
      output_tokens: num(raw.output_tokens) ?? 0,
      cache_creation_input_tokens: cacheCreation === 0 ? undefined : cacheCreation,
      cache_read_input_tokens: cacheRead === 0 ? undefined : cacheRead,
    }),
  };
}

/** OpenAI Chat Completions: prompt_tokens / completion_tokens. */
export function openaiChatUsage(raw: unknown): UsageReading {
  if (!isObject(raw)) return NO_USAGE;
  return {
    raw,
    usage: compact({
      input_tokens: num(raw.prompt_tokens) ?? 0,
      output_tokens: num(raw.completion_tokens) ?? 0,
      total_tokens: num(raw.total_tokens),
      cache_read_input_tokens: nested(raw, 'prompt_tokens_details', 'cached_tokens'),
      reasoning_tokens: nested(raw, 'completion_tokens_details', 'reasoning_tokens'),
    }),
  };
}

/** OpenAI Responses: input_tokens / output_tokens with *_details. */
export function openaiResponsesUsage(raw: unknown): UsageReading {
  if (!isObject(raw)) return NO_USAGE;
  return {
    raw,
    usage: compact({
      input_tokens: num(raw.input_tokens) ?? 0,
      output_tokens: num(raw.output_tokens) ?? 0,
      total_tokens: num(raw.total_tokens),
      cache_read_input_tokens: nested(raw, 'input_tokens_details', 'cached_tokens'),
      reasoning_tokens: nested(raw, 'output_tokens_details', 'reasoning_tokens'),
    }),
  };
}

/** Gemini usageMetadata: promptTokenCount / candidatesTokenCount (+ thoughts, cached). */
export function geminiUsage(raw: unknown): UsageReading {
  if (!isObject(raw)) return NO_USAGE;
  return {
    raw,
    usage: compact({
      input_tokens: num(raw.promptTokenCount) ?? 0,
      output_tokens: num(raw.candidatesTokenCount) ?? 0,
      total_tokens: num(raw.totalTokenCount),
      cache_read_input_tokens: num(raw.cachedContentTokenCount),
      reasoning_tokens: num(raw.thoughtsTokenCount),
    }),
  };
}
