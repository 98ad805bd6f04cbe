// Each provider's stream, fed as the network would split it (mid-event, mid-UTF-8 character,
// several events per write) and in every content coding, folds into the response the
// non-streaming API would have returned, with usage normalised and kept raw.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import zlib from 'node:zlib';
import { ResponseCapture, type CapturedResponse } from '../../src/audit/llm/response-capture.ts';
import type { ProviderCodec } from '../../src/audit/llm/assembler.ts';
import { anthropicCodec } from '../../src/audit/llm/anthropic.ts';
import { openaiChatCodec } from '../../src/audit/llm/openai-chat.ts';
import { openaiResponsesCodec } from '../../src/audit/llm/openai-responses.ts';
import { geminiCodec, geminiModelFromPath } from '../../src/audit/llm/gemini.ts';
import { routeLlmRequest } from '../../src/audit/llm/providers.ts';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/llm/${name}`, import.meta.url));
const SSE = { 'content-type': 'text/event-stream; charset=utf-8' };
const JSON_TYPE = { 'content-type': 'application/json' };

/** Deterministic awkward write sizes: 1 byte, a few bytes, a long run, … */
function awkwardChunks(bytes: Buffer): Buffer[] {
  const sizes = [1, 7, 150, 2, 333, 5, 64, 1, 900, 13];
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length] as number;
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

async function capture(codec: ProviderCodec | undefined, body: Buffer, headers: Record<string, string>, options: { max?: number; chunks?: (b: Buffer) => Buffer[] } = {}): Promise<CapturedResponse> {
  const c = new ResponseCapture(codec, options.max ?? 1024 * 1024);
  c.start(headers);
  for (const chunk of (options.chunks ?? awkwardChunks)(body)) c.data(chunk);
  await new Promise<void>((resolve) => c.end(resolve));
  return c.result();
}

const ANTHROPIC_TOOL_USE = {
  id: 'msg_014p7gG3wDgGV9EUtLvnow3U',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content: [
    { type: 'text', text: 'Okay, let\'s check the weather for San Francisco, CA — ça va ☀️:' },
    { type: 'tool_use', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', input: { location: 'San Francisco, CA', unit: 'fahrenheit' } },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: { input_tokens: 472, output_tokens: 89, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
};

describe('Anthropic Messages', () => {
  it('reassembles text and a tool call whose input is parsed at the end', async () => {
    const r = await capture(anthropicCodec, fixture('anthropic-tool-use.sse'), SSE);
    expect(r.response).toEqual(ANTHROPIC_TOOL_USE);
    expect(r.usage.usage).toEqual({ input_tokens: 472, output_tokens: 89 });
    expect(r.usage.raw).toEqual(ANTHROPIC_TOOL_USE.usage);
    expect(r).toMatchObject({ sse: true, truncated: false, failed: false });
  });

  it('reassembles thinking with its signature, then text; cache reads are counted', async () => {
    const r = await capture(anthropicCodec, fixture('anthropic-thinking.sse'), SSE);
    const message = r.response as { content: { type: string; thinking?: string; signature?: string; text?: string }[]; stop_reason: string };
    expect(message.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(message.content[0]?.thinking).toBe('I need to find the GCD of 1071 and 462 using the Euclidean algorithm.\n\n1071 = 2 × 462 + 147\n462 = 3 × 147 + 21\n147 = 7 × 21 + 0');
    expect(message.content[0]?.signature).toMatch(/^EqQBCgIYAhIM/);
    expect(message.content[1]?.text).toBe('The greatest common divisor of 1071 and 462 is **21**.');
    expect(message.stop_reason).toBe('end_turn');
    expect(r.usage.usage).toEqual({ input_tokens: 40, output_tokens: 120, cache_read_input_tokens: 12 });
  });

  it('marks a stream that ends in an error event as failed, keeping the partial message', async () => {
    const r = await capture(anthropicCodec, fixture('anthropic-error.sse'), SSE);
    expect(r.failed).toBe(true);
    expect(r.response).toMatchObject({ content: [{ type: 'text', text: 'Once upon a' }], error: { type: 'overloaded_error', message: 'Overloaded' } });
  });

  it('logs a non-streaming message as sent, with its usage', async () => {
    const body = fixture('anthropic-tool-use.json');
    const r = await capture(anthropicCodec, body, JSON_TYPE);
    expect(r.response).toEqual(JSON.parse(body.toString()));
    expect(r.usage.usage).toEqual({ input_tokens: 2095, output_tokens: 503 });
    expect(r.sse).toBe(false);
  });

  it('keeps what arrived of a stream cut mid-way, with the tool input as text', async () => {
    const text = fixture('anthropic-tool-use.sse').toString();
    const cut = Buffer.from(text.slice(0, text.indexOf('fah')));
    const r = await capture(anthropicCodec, cut, SSE);
    const message = r.response as { content: { input?: unknown }[]; stop_reason: unknown };
    expect(message.stop_reason).toBeNull();
    expect(typeof message.content[1]?.input).toBe('string');
  });
});

describe('OpenAI Chat Completions', () => {
  it('reassembles streamed text and takes usage from the include_usage chunk', async () => {
    const r = await capture(openaiChatCodec, fixture('openai-chat-text.sse'), SSE);
    expect(r.response).toEqual({
      id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
      object: 'chat.completion',
      created: 1741570283,
      model: 'gpt-4o-2024-08-06',
      service_tier: 'default',
      system_fingerprint: 'fp_eb9dce56a8',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today — naïve café?', refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: expect.objectContaining({ prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 }),
    });
    expect(r.usage.usage).toEqual({ input_tokens: 19, output_tokens: 10, total_tokens: 29, cache_read_input_tokens: 0, reasoning_tokens: 0 });
  });

  it('merges parallel tool-call deltas by index', async () => {
    const r = await capture(openaiChatCodec, fixture('openai-chat-tools.sse'), SSE);
    const choice = (r.response as { choices: { message: { tool_calls: unknown[]; content: unknown }; finish_reason: string }[] }).choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    expect(choice?.message.tool_calls).toEqual([
      { id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris, France"}' } },
      { id: 'call_ABCDEFGH12345678abcdefgh', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Bogotá, Colombia"}' } },
    ]);
    expect(r.usage.usage).toMatchObject({ input_tokens: 81, output_tokens: 44, cache_read_input_tokens: 64 });
  });
});

describe('OpenAI Responses', () => {
  it('takes the final response from response.completed', async () => {
    const r = await capture(openaiResponsesCodec, fixture('openai-responses-text.sse'), SSE);
    expect(r.response).toMatchObject({
      id: 'resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654',
      status: 'completed',
      output: [{ type: 'message', content: [{ type: 'output_text', text: 'Hi there! How can I assist you today — über-quick?' }] }],
    });
    expect(r.usage.usage).toEqual({ input_tokens: 37, output_tokens: 11, total_tokens: 48, cache_read_input_tokens: 0, reasoning_tokens: 0 });
  });

  it('builds the output from deltas when the stream is cut before response.completed', async () => {
    const text = fixture('openai-responses-text.sse').toString();
    const r = await capture(openaiResponsesCodec, Buffer.from(text.slice(0, text.indexOf('event: response.output_text.done'))), SSE);
    expect(r.response).toMatchObject({ status: 'in_progress', output: [{ content: [{ text: 'Hi there! How can I assist you today — über-quick?' }] }] });
    expect(r.usage.usage).toBeUndefined();
  });
});

describe('Gemini', () => {
  it('merges streamGenerateContent?alt=sse (CRLF) into one GenerateContentResponse', async () => {
    const body = fixture('gemini-stream.sse');
    expect(body.includes('\r\n\r\n')).toBe(true);
    const r = await capture(geminiCodec, body, SSE);
    expect(r.response).toEqual({
      candidates: [{ content: { parts: [{ text: 'The quick brown fox jumps over the lazy dog — façade 🦊.\n' }], role: 'model' }, index: 0, finishReason: 'STOP' }],
      usageMetadata: { promptTokenCount: 8, candidatesTokenCount: 14, totalTokenCount: 22, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 8 }] },
      modelVersion: 'gemini-2.0-flash',
      responseId: 'fmNraMnSO_PWz7IPpZ-7mAY',
    });
    expect(r.usage.usage).toEqual({ input_tokens: 8, output_tokens: 14, total_tokens: 22 });
  });

  it('merges a JSON-array stream (no alt=sse) and reads a function call', async () => {
    const parts = fixture('gemini-stream.sse').toString().split('\r\n\r\n').filter((p) => p !== '').map((p) => p.slice('data: '.length));
    const r = await capture(geminiCodec, Buffer.from(`[${parts.join(',\r\n')}]`), JSON_TYPE);
    expect(r.response).toMatchObject({ candidates: [{ content: { parts: [{ text: 'The quick brown fox jumps over the lazy dog — façade 🦊.\n' }] } }] });
    const call = await capture(geminiCodec, fixture('gemini-function-call.json'), JSON_TYPE);
    expect(call.response).toMatchObject({ candidates: [{ content: { parts: [{ functionCall: { name: 'get_weather', args: { location: 'Paris' } } }] } }] });
    expect(call.usage.usage).toEqual({ input_tokens: 54, output_tokens: 6, total_tokens: 60 });
  });

  it('names the model from the path', () => {
    expect(geminiModelFromPath('/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse')).toBe('gemini-2.0-flash');
    expect(geminiModelFromPath('/v1/projects/p/locations/l/publishers/google/models/gemini-1.5-pro:generateContent')).toBe('gemini-1.5-pro');
  });
});

describe('content codings are decoded for the log', () => {
  const body = fixture('anthropic-tool-use.sse');
  const codings: [string, (b: Buffer) => Buffer][] = [
    ['gzip', (b) => zlib.gzipSync(b)],
    ['deflate', (b) => zlib.deflateSync(b)],
    ['br', (b) => zlib.brotliCompressSync(b)],
    ['zstd', (b) => zlib.zstdCompressSync(b)],
  ];
  for (const [coding, encode] of codings) {
    it(`${coding}`, async () => {
      const r = await capture(anthropicCodec, encode(body), { ...SSE, 'content-encoding': coding });
      expect(r.response).toEqual(ANTHROPIC_TOOL_USE);
      expect(r.truncated).toBe(false);
    });
  }

  it('keeps what decoded of a gzip stream cut mid-way', async () => {
    const gz = zlib.gzipSync(body);
    const r = await capture(anthropicCodec, gz.subarray(0, gz.length - 40), { ...SSE, 'content-encoding': 'gzip' });
    expect((r.response as { id: string }).id).toBe('msg_014p7gG3wDgGV9EUtLvnow3U');
  });

  it('does not log a body in an unknown coding', async () => {
    const r = await capture(anthropicCodec, Buffer.from('binary?'), { ...SSE, 'content-encoding': 'compress' });
    expect(r).toMatchObject({ truncated: true });
  });
});

describe('bounds and fallbacks', () => {
  it('cuts the reassembled text at the cap and says so', async () => {
    const r = await capture(anthropicCodec, fixture('anthropic-tool-use.sse'), SSE, { max: 20 });
    expect(r.truncated).toBe(true);
    const content = (r.response as { content: { text?: string }[] }).content;
    expect(content[0]?.text).toBe('Okay, let\'s check th');
    expect((r.response as { stop_reason: string }).stop_reason).toBe('tool_use');
  });

  it('keeps a JSON body above the cap as its text prefix', async () => {
    const r = await capture(anthropicCodec, fixture('anthropic-tool-use.json'), JSON_TYPE, { max: 100 });
    expect(r.truncated).toBe(true);
    expect(typeof r.response).toBe('string');
    expect((r.response as string).length).toBe(100);
  });

  it('keeps anything else as text, or JSON when it parses', async () => {
    const sse = await capture(undefined, Buffer.from('data: hello\n\n'), SSE);
    expect(sse.response).toBe('data: hello\n\n');
    const json = await capture(undefined, Buffer.from('{"data":[{"id":"claude-x"}]}'), JSON_TYPE);
    expect(json.response).toEqual({ data: [{ id: 'claude-x' }] });
  });

  it('routes endpoints to their reassembler and everything else to raw', () => {
    expect(routeLlmRequest('anthropic', 'POST', '/v1/messages').api).toBe('anthropic-messages');
    expect(routeLlmRequest('anthropic', 'POST', '/v1/messages/count_tokens').api).toBe('raw');
    expect(routeLlmRequest('anthropic', 'GET', '/v1/models').api).toBe('raw');
    expect(routeLlmRequest('openai', 'POST', '/v1/chat/completions').api).toBe('openai-chat');
    expect(routeLlmRequest('openai', 'POST', '/v1/responses').api).toBe('openai-responses');
    expect(routeLlmRequest('openai', 'POST', '/v1/embeddings').api).toBe('raw');
    expect(routeLlmRequest('gemini', 'POST', '/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse').api).toBe('gemini-generate');
    expect(routeLlmRequest('gemini', 'POST', '/v1beta/models/gemini-2.0-flash:countTokens').api).toBe('raw');
  });
});
