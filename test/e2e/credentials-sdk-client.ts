// An agent's program using the official SDKs unmodified, run by Node as the agent's uid inside
// the sandbox: the API key comes from the usual variable (ANTHROPIC_API_KEY, OPENAI_API_KEY),
// which holds a surrogate; the SDK's default base URL is used unless one is given; trust comes
// from NODE_EXTRA_CA_CERTS. Prints one JSON line: what the SDK returned (status, headers, the
// assistant's text) or the error it threw.
// Usage: node credentials-sdk-client.ts anthropic|openai json|stream [BASE_URL]
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

const [sdk, mode, baseURL] = process.argv.slice(2);
const stream = mode === 'stream';
const options = { maxRetries: 0, timeout: 15_000, ...(baseURL ? { baseURL } : {}) };

async function callAnthropic(): Promise<{ response: Response; text: string }> {
  const client = new Anthropic(options);
  const params = { model: 'claude-test', max_tokens: 16, messages: [{ role: 'user' as const, content: 'hi' }] };
  if (!stream) {
    const { data, response } = await client.messages.create(params).withResponse();
    return { response, text: data.content.map((b) => (b.type === 'text' ? b.text : '')).join('') };
  }
  const { data, response } = await client.messages.create({ ...params, stream: true }).withResponse();
  let text = '';
  for await (const event of data) {
    if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
  }
  return { response, text };
}

async function callOpenAI(): Promise<{ response: Response; text: string }> {
  const client = new OpenAI(options);
  const params = { model: 'gpt-test', messages: [{ role: 'user' as const, content: 'hi' }] };
  if (!stream) {
    const { data, response } = await client.chat.completions.create(params).withResponse();
    return { response, text: data.choices[0]?.message.content ?? '' };
  }
  const { data, response } = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } }).withResponse();
  let text = '';
  for await (const chunk of data) text += chunk.choices[0]?.delta.content ?? '';
  return { response, text };
}

try {
  const { response, text } = sdk === 'anthropic' ? await callAnthropic() : await callOpenAI();
  console.log(JSON.stringify({ ok: true, status: response.status, headers: Object.fromEntries(response.headers), text }));
} catch (err) {
  const e = err as { status?: number; message?: string; name?: string; cause?: { code?: string } };
  console.log(JSON.stringify({ ok: false, status: e.status, name: e.name, message: e.message, cause: e.cause?.code }));
  process.exitCode = 1;
}
