// Which API an exchange on an `llm` host speaks, from the rule's provider and the request
// path: the endpoints whose responses sluice reassembles, and "raw" for everything else.
import type { LlmProvider } from '../../config/types.ts';
import type { ProviderCodec } from './assembler.ts';
import { anthropicCodec } from './anthropic.ts';
import { geminiCodec } from './gemini.ts';
import { openaiChatCodec } from './openai-chat.ts';
import { openaiResponsesCodec } from './openai-responses.ts';

export type LlmApi = 'anthropic-messages' | 'openai-chat' | 'openai-responses' | 'gemini-generate' | 'raw';

export interface ApiRoute {
  api: LlmApi;
  /** Undefined for "raw": the body is logged as text. */
  codec: ProviderCodec | undefined;
}

const RAW: ApiRoute = { api: 'raw', codec: undefined };

export function routeLlmRequest(provider: LlmProvider, method: string, target: string): ApiRoute {
  if (method !== 'POST') return RAW;
  const path = target.split('?')[0] ?? '';
  switch (provider) {
    case 'anthropic':
      return /\/v1\/messages\/?$/.test(path) ? { api: 'anthropic-messages', codec: anthropicCodec } : RAW;
    case 'openai':
      if (/\/chat\/completions\/?$/.test(path)) return { api: 'openai-chat', codec: openaiChatCodec };
      if (/\/responses\/?$/.test(path)) return { api: 'openai-responses', codec: openaiResponsesCodec };
      return RAW;
    case 'gemini':
      return /:(stream)?[gG]enerateContent$/.test(path) ? { api: 'gemini-generate', codec: geminiCodec } : RAW;
    default: {
      const unknown: never = provider;
      return unknown;
    }
  }
}
