// The LLM audit log end to end (DESIGN.md §4, issue 5): the official @anthropic-ai/sdk and
// openai SDKs, streaming and not, tool use included, talk through an in-process sluice (real
// resolver, verified TLS both ways) to a fake provider that replays byte-for-byte fixture
// streams in awkward pieces. What the client ends up with must equal what llm.ndjson holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import zlib from 'node:zlib';
import https from 'node:https';
import { Agent, fetch as undiciFetch, request } from 'undici';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createTestPki, type TestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { fixtureBytes, startLlmOrigin, type LlmOrigin } from '../helpers/llm-origin.ts';
import { waitFor } from '../helpers/process.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('llm-audit', ['openssl', 'dnsmasq']);

const ORIGIN_ADDRESS = '127.0.0.5';
const NAMES = ['api.anthropic.com', 'api.openai.com', 'generativelanguage.googleapis.com'];
const ANTHROPIC_SURROGATE = 'sk-ant-api03-sluice-IT-SURROGATE-0001';
const ANTHROPIC_REAL = `sk-ant-api03-REAL-${randomUUID()}`;
const OPENAI_SURROGATE = 'sk-sluice-openai-IT-SURROGATE-0002';
const OPENAI_REAL = `sk-proj-REAL-${randomUUID()}`;

let pki: TestPki;
let origin: LlmOrigin;
let dns: TestResolver;
let t: TestSluice;
let dispatcher: Agent;

type Line = Record<string, unknown> & { request: unknown; response: unknown; usage: Record<string, number> | null };

function llmLines(): Line[] {
  const path = join(t.config.proxy.logDir, 'llm.ndjson');
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.pop();
  return lines.map((l) => JSON.parse(l) as Line);
}

/** The log line whose request carries `marker` (each test sends its own). */
async function lineFor(marker: string, timeoutMs = 5_000): Promise<Line> {
  let found: Line | undefined;
  await waitFor(() => {
    found = llmLines().find((l) => JSON.stringify(l.request).includes(marker));
    return found !== undefined;
  }, timeoutMs, `an llm.ndjson line for ${marker}`);
  return found as Line;
}

/** The SDKs add parse helpers (parsed_output, output_parsed, parsed) that are not on the wire. */
function wire(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (['parsed_output', 'output_parsed', 'parsed'].includes(key) ? undefined : v)));
}

const fetchVia = ((url: string, init?: Record<string, unknown>) => undiciFetch(url, { ...init, dispatcher } as never)) as never;

function anthropic(): Anthropic {
  return new Anthropic({ apiKey: ANTHROPIC_SURROGATE, baseURL: `https://api.anthropic.com:${t.sluice.ports.https}`, fetch: fetchVia, maxRetries: 0 });
}

function openai(): OpenAI {
  return new OpenAI({ apiKey: OPENAI_SURROGATE, baseURL: `https://api.openai.com:${t.sluice.ports.https}/v1`, fetch: fetchVia, maxRetries: 0 });
}

const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Get the current weather in a given location',
  input_schema: { type: 'object' as const, properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } }, required: ['location'] },
};

beforeAll(async () => {
  process.env.SLUICE_IT_ANTHROPIC_KEY = ANTHROPIC_REAL;
  process.env.SLUICE_IT_OPENAI_KEY = OPENAI_REAL;
  pki = await createTestPki();
  const cert = await pki.issue(NAMES);
  origin = await startLlmOrigin(cert, ORIGIN_ADDRESS);
  dns = await startDnsmasq(Object.fromEntries(NAMES.map((n) => [n, [ORIGIN_ADDRESS]])));
  t = await startTestSluice(`
[proxy]
agent = "llm-it"
extra_upstream_ca = "${pki.caCert}"

[upstream]
https_port = ${origin.port}
connect_timeout_ms = 2000

[dns]
upstream = "${dns.address}"

[[allow]]
host = "api.anthropic.com"
llm = "anthropic"
private = true

[[allow]]
host = "api.openai.com"
llm = "openai"
private = true

[[allow]]
host = "generativelanguage.googleapis.com"
llm = "gemini"
private = true

[credentials.anthropic]
hosts = ["api.anthropic.com"]
surrogate = "${ANTHROPIC_SURROGATE}"
secret = { env = "SLUICE_IT_ANTHROPIC_KEY" }

[credentials.openai]
hosts = ["api.openai.com"]
surrogate = "${OPENAI_SURROGATE}"
secret = { env = "SLUICE_IT_OPENAI_KEY" }
`);
  dispatcher = new Agent({
    connect: {
      ca: readFileSync(t.caCert, 'utf8'),
      lookup: (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
    } as never,
  });
});

afterAll(async () => {
  await dispatcher?.close();
  await t?.stop();
  await origin?.stop();
  await dns?.stop();
});

describe.skipIf(skip)('Anthropic Messages through sluice', () => {
  it('non-streaming tool use: the logged response is what the SDK returned, usage normalised', async () => {
    const marker = randomUUID();
    const params = { model: 'claude-haiku-4-5', max_tokens: 1024, tools: [WEATHER_TOOL], messages: [{ role: 'user' as const, content: `Weather in SF? ${marker}` }] };
    const message = await anthropic().messages.create(params, { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } });
    expect(message.content[1]).toMatchObject({ type: 'tool_use', input: { location: 'San Francisco, CA', unit: 'celsius' } });
    const line = await lineFor(marker);
    expect(line.response).toEqual(wire(message));
    expect(line).toMatchObject({ agent: 'llm-it', provider: 'anthropic', model: 'claude-haiku-4-5', stream: false, status: 200, outcome: 'complete', truncated: false });
    expect(line.request).toEqual(params);
    expect(line.usage).toEqual({ input_tokens: 2095, output_tokens: 503 });
    expect(line.usage_raw).toEqual(message.usage);
    expect(typeof line.ttfb_ms).toBe('number');
    expect(line.ms).toBeGreaterThanOrEqual(line.ttfb_ms as number);
    // The agent's bytes reached the origin unchanged (only the credential header was swapped).
    const received = origin.received.find((r) => r.body.includes(marker));
    expect(JSON.parse(received?.body.toString() ?? '{}')).toEqual(params);
    expect(`${received?.headers['x-api-key'] ?? ''}${received?.headers.authorization ?? ''}`).toContain(ANTHROPIC_REAL);
  });

  it('streaming tool use, split awkwardly: finalMessage() equals the logged reassembly', async () => {
    const marker = randomUUID();
    const stream = anthropic().messages.stream(
      { model: 'claude-haiku-4-5', max_tokens: 1024, tools: [WEATHER_TOOL], messages: [{ role: 'user', content: `Weather? ${marker}` }] },
      { headers: { 'x-test-fixture': 'anthropic-tool-use.sse' } },
    );
    const texts: string[] = [];
    stream.on('text', (delta) => texts.push(delta));
    const final = await stream.finalMessage();
    expect(texts.join('')).toBe('Okay, let\'s check the weather for San Francisco, CA — ça va ☀️:');
    const line = await lineFor(marker);
    expect(line.response).toEqual(wire(final));
    expect((line.response as { content: unknown[] }).content[1]).toEqual({ type: 'tool_use', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', input: { location: 'San Francisco, CA', unit: 'fahrenheit' } });
    expect(line).toMatchObject({ stream: true, outcome: 'complete', status: 200 });
    expect(line.usage).toEqual({ input_tokens: final.usage.input_tokens, output_tokens: final.usage.output_tokens });
    expect(line.usage).toEqual({ input_tokens: 472, output_tokens: 89 });
  });

  it('streaming with thinking and signature deltas', async () => {
    const marker = randomUUID();
    const final = await anthropic().messages.stream(
      { model: 'claude-haiku-4-5', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: `GCD? ${marker}` }] },
      { headers: { 'x-test-fixture': 'anthropic-thinking.sse' } },
    ).finalMessage();
    const line = await lineFor(marker);
    expect(line.response).toEqual(wire(final));
    expect(line.usage).toEqual({ input_tokens: 40, output_tokens: 120, cache_read_input_tokens: 12 });
  });

  it('a gzip stream on a credential host is logged decoded, and the SDK gets the same message', async () => {
    const marker = randomUUID();
    const final = await anthropic().messages.stream(
      { model: 'claude-haiku-4-5', max_tokens: 1024, messages: [{ role: 'user', content: `gz ${marker}` }] },
      { headers: { 'x-test-fixture': 'anthropic-tool-use.sse', 'x-test-encoding': 'gzip' } },
    ).finalMessage();
    const line = await lineFor(marker);
    expect(line.response).toEqual(wire(final));
    expect(line.truncated).toBe(false);
  });

  it('an HTTP error is logged with outcome "error" and the provider\'s error body', async () => {
    const marker = randomUUID();
    await expect(anthropic().messages.create(
      { model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: `err ${marker}` }] },
      { headers: { 'x-test-fixture': 'anthropic-overloaded.json', 'x-test-status': '529' } },
    )).rejects.toThrow(/Overloaded/);
    const line = await lineFor(marker);
    expect(line).toMatchObject({ status: 529, outcome: 'error', response: { type: 'error', error: { type: 'overloaded_error' } } });
  });

  it('an error event inside a 200 stream is logged as "error" with the partial message', async () => {
    const marker = randomUUID();
    await expect(anthropic().messages.stream(
      { model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: `err-event ${marker}` }] },
      { headers: { 'x-test-fixture': 'anthropic-error.sse' } },
    ).finalMessage()).rejects.toThrow(/Overloaded/);
    const line = await lineFor(marker);
    expect(line).toMatchObject({ status: 200, outcome: 'error', response: { content: [{ text: 'Once upon a' }], error: { type: 'overloaded_error' } } });
  });

  it('a stream the upstream cuts mid-way is logged as cut_off with what arrived', async () => {
    const marker = randomUUID();
    const cutAt = fixtureBytes('anthropic-tool-use.sse').indexOf('San Francisc');
    await expect(anthropic().messages.stream(
      { model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: `cut ${marker}` }] },
      { headers: { 'x-test-fixture': 'anthropic-tool-use.sse', 'x-test-cut': String(cutAt) } },
    ).finalMessage()).rejects.toThrow();
    const line = await lineFor(marker);
    expect(line).toMatchObject({ outcome: 'cut_off', status: 200, response: { id: 'msg_014p7gG3wDgGV9EUtLvnow3U', stop_reason: null } });
  });

  it('the first event reaches the client while the stream is still open, before the line is written', async () => {
    const marker = randomUUID();
    const started = performance.now();
    const stream = anthropic().messages.stream(
      { model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: `ttfe ${marker}` }] },
      { headers: { 'x-test-fixture': 'anthropic-tool-use.sse', 'x-test-pause-ms': '1500' } },
    );
    const firstEventMs = await new Promise<number>((resolve) => stream.on('streamEvent', () => resolve(performance.now() - started)));
    // message_start arrived; the origin holds the rest back for 1.5 s.
    expect(llmLines().some((l) => JSON.stringify(l.request).includes(marker))).toBe(false);
    await stream.finalMessage();
    const totalMs = performance.now() - started;
    console.log(`[llm first event] ${firstEventMs.toFixed(1)} ms to first event, ${totalMs.toFixed(1)} ms to end (origin pauses 1500 ms after it)`);
    expect(firstEventMs).toBeLessThan(1000);
    expect(totalMs).toBeGreaterThanOrEqual(1500);
    const line = await lineFor(marker);
    expect(line.ttfb_ms as number).toBeLessThan(1000);
    expect(line.ms as number).toBeGreaterThanOrEqual(1500);
  });

  it('logs no secret: surrogate in the prompt and the real key echoed by the upstream are redacted', async () => {
    const marker = randomUUID();
    const message = await anthropic().messages.create(
      { model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: `my key is ${ANTHROPIC_SURROGATE} ${marker}` }] },
      { headers: { 'x-test-fixture': 'anthropic-echo-key.json' } },
    );
    // The upstream echoed the real key; the agent sees only its surrogate (credential scrub).
    expect(JSON.stringify(message)).toContain(ANTHROPIC_SURROGATE);
    expect(JSON.stringify(message)).not.toContain(ANTHROPIC_REAL);
    const line = await lineFor(marker);
    expect(JSON.stringify(line)).toContain('[REDACTED');
    const file = readFileSync(join(t.config.proxy.logDir, 'llm.ndjson'), 'utf8');
    for (const secret of [ANTHROPIC_REAL, ANTHROPIC_SURROGATE, OPENAI_REAL, OPENAI_SURROGATE]) expect(file).not.toContain(secret);
  });
});

describe.skipIf(skip)('other exchanges on an llm host', () => {
  it('an endpoint without a reassembler (GET /v1/models) is logged raw, parsed when it is JSON', async () => {
    const marker = randomUUID();
    const res = await undiciFetch(`https://api.anthropic.com:${t.sluice.ports.https}/v1/models?marker=${marker}`, {
      dispatcher,
      headers: { 'x-api-key': ANTHROPIC_SURROGATE, 'x-test-fixture': 'anthropic-models.json' },
    });
    const json = await res.json();
    let line: Line | undefined;
    await waitFor(() => {
      line = llmLines().find((l) => JSON.stringify(l.response).includes('Claude Haiku 4.5') && l.request === null && (l.ms as number) >= 0 && l.id !== undefined);
      return line !== undefined;
    }, 5_000, 'the raw line');
    expect(line?.response).toEqual(json);
    expect(line).toMatchObject({ provider: 'anthropic', stream: false, status: 200, outcome: 'complete', usage: null });
  });

  it('a client that hangs up mid-stream leaves a cut_off line', async () => {
    // sluice keeps a half-closed client's response (DESIGN §1), so the hang-up is noticed at
    // the next write: the origin pauses after the first event, the client leaves, then more comes.
    const marker = randomUUID();
    const body = JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 10, stream: true, messages: [{ role: 'user', content: `hangup ${marker}` }] });
    await new Promise<void>((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1', port: t.sluice.ports.https, servername: 'api.anthropic.com', ca: readFileSync(t.caCert), method: 'POST', path: '/v1/messages',
        headers: { host: 'api.anthropic.com', 'content-type': 'application/json', 'x-api-key': ANTHROPIC_SURROGATE, 'x-test-fixture': 'anthropic-tool-use.sse', 'x-test-pause-ms': '300' },
      }, (res) => {
        let seen = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          seen += c;
          // The first event has arrived: hang up.
          if (seen.includes('message_start')) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on('error', (err) => {
        if (!req.destroyed) reject(err);
      });
      req.end(body);
    });
    const line = await lineFor(marker);
    expect(line).toMatchObject({ outcome: 'cut_off', status: 200, stream: true, response: { id: 'msg_014p7gG3wDgGV9EUtLvnow3U', stop_reason: null } });
  });
});

describe.skipIf(skip)('OpenAI through sluice', () => {
  it('Chat Completions streaming with parallel tool calls and include_usage: finalChatCompletion() equals the log', async () => {
    const marker = randomUUID();
    const stream = openai().chat.completions.stream(
      {
        model: 'gpt-4o',
        stream_options: { include_usage: true },
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } } }],
        messages: [{ role: 'user', content: `Paris and Bogotá? ${marker}` }],
      },
      { headers: { 'x-test-fixture': 'openai-chat-tools.sse' } },
    );
    const final = await stream.finalChatCompletion();
    const line = await lineFor(marker);
    const logged = line.response as { choices: { message: Record<string, unknown> }[] };
    expect(logged.choices[0]?.message.tool_calls).toEqual(final.choices[0]?.message.tool_calls?.map((c) => JSON.parse(JSON.stringify(c))));
    expect(logged).toMatchObject(JSON.parse(JSON.stringify({ ...final, choices: final.choices.map(({ message, ...rest }) => ({ ...rest, message: { role: message.role, content: message.content, refusal: message.refusal } })) })));
    expect(line.usage).toEqual({ input_tokens: 81, output_tokens: 44, total_tokens: 125, cache_read_input_tokens: 64, reasoning_tokens: 0 });
    expect(line.usage_raw).toEqual(final.usage);
    expect(line).toMatchObject({ provider: 'openai', model: 'gpt-4o', stream: true, outcome: 'complete' });
  });

  it('Chat Completions streaming text: the client\'s text equals the logged content', async () => {
    const marker = randomUUID();
    const stream = await openai().chat.completions.create(
      { model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: `hi ${marker}` }] },
      { headers: { 'x-test-fixture': 'openai-chat-text.sse' } },
    );
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    const line = await lineFor(marker);
    expect((line.response as { choices: { message: { content: string } }[] }).choices[0]?.message.content).toBe(text);
    expect(line.usage_raw).toEqual(usage);
  });

  it('Chat Completions non-streaming with a tool call', async () => {
    const marker = randomUUID();
    const completion = await openai().chat.completions.create(
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Boston? ${marker}` }] },
      { headers: { 'x-test-fixture': 'openai-chat-tools.json' } },
    );
    const line = await lineFor(marker);
    expect(line.response).toEqual(wire(completion));
    expect(line.usage).toEqual({ input_tokens: 82, output_tokens: 17, total_tokens: 99, reasoning_tokens: 0 });
    expect(line.stream).toBe(false);
  });

  it('Responses API streaming: finalResponse() matches the logged response', async () => {
    const marker = randomUUID();
    const final = await openai().responses.stream(
      { model: 'gpt-4.1', input: `hello ${marker}` },
      { headers: { 'x-test-fixture': 'openai-responses-text.sse' } },
    ).finalResponse();
    const line = await lineFor(marker);
    const { output_text: outputText, ...rest } = wire(final) as Record<string, unknown>;
    expect(line.response).toEqual(rest);
    expect(outputText).toBe('Hi there! How can I assist you today — über-quick?');
    expect(line.usage).toEqual({ input_tokens: 37, output_tokens: 11, total_tokens: 48, cache_read_input_tokens: 0, reasoning_tokens: 0 });
  });
});

describe.skipIf(skip)('Gemini through sluice (no credential: the agent gets the original bytes)', () => {
  it('streamGenerateContent?alt=sse with CRLF events, gzip: the agent gets the gzip bytes, the log the decoded answer', async () => {
    const marker = randomUUID();
    const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: `fox ${marker}` }] }] });
    const res = await request(`https://generativelanguage.googleapis.com:${t.sluice.ports.https}/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', 'x-test-fixture': 'gemini-stream.sse', 'x-test-encoding': 'gzip', 'accept-encoding': 'gzip' },
      body,
    });
    const raw = Buffer.from(await res.body.arrayBuffer());
    expect(res.headers['content-encoding']).toBe('gzip');
    const sent = origin.sent[origin.received.findIndex((r) => r.body.includes(marker))];
    expect(raw.equals(sent as Buffer)).toBe(true);
    expect(zlib.gunzipSync(raw).equals(fixtureBytes('gemini-stream.sse'))).toBe(true);
    const line = await lineFor(marker);
    expect(line).toMatchObject({ provider: 'gemini', model: 'gemini-2.0-flash', stream: true, outcome: 'complete', truncated: false });
    expect(line.response).toMatchObject({ candidates: [{ content: { parts: [{ text: 'The quick brown fox jumps over the lazy dog — façade 🦊.\n' }] }, finishReason: 'STOP' }] });
    expect(line.usage).toEqual({ input_tokens: 8, output_tokens: 14, total_tokens: 22 });
  });

  it('generateContent with a function call', async () => {
    const marker = randomUUID();
    const res = await undiciFetch(`https://generativelanguage.googleapis.com:${t.sluice.ports.https}/v1beta/models/gemini-2.0-flash:generateContent`, {
      method: 'POST',
      dispatcher,
      headers: { 'content-type': 'application/json', 'x-test-fixture': 'gemini-function-call.json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: `weather ${marker}` }] }] }),
    });
    const json = await res.json();
    const line = await lineFor(marker);
    expect(line.response).toEqual(json);
    expect(line.usage).toEqual({ input_tokens: 54, output_tokens: 6, total_tokens: 60 });
  });
});

describe.skipIf(skip)('shutdown', () => {
  it('flushInFlight writes an exchange still streaming as cut_off with what arrived so far', async () => {
    const marker = randomUUID();
    const stallAt = fixtureBytes('anthropic-tool-use.sse').indexOf('event: content_block_stop');
    const stream = anthropic().messages.stream(
      { model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: `stall ${marker}` }] },
      { headers: { 'x-test-fixture': 'anthropic-tool-use.sse', 'x-test-stall': String(stallAt) } },
    );
    const failed = stream.finalMessage().catch((err: unknown) => err);
    await new Promise<void>((resolve) => stream.on('text', (_d, snapshot) => {
      if (snapshot.endsWith(':')) resolve();
    }));
    // What sluice's close() does on SIGTERM (lead wiring): write in-flight exchanges.
    await t.sluice.runtime().services.llmLog.flushInFlight();
    const line = await lineFor(marker, 1_000);
    expect(line).toMatchObject({ outcome: 'cut_off', response: { content: [{ text: 'Okay, let\'s check the weather for San Francisco, CA — ça va ☀️:' }] } });
    stream.abort();
    await failed;
    // The exchange's own end does not write a second line.
    await new Promise((r) => setTimeout(r, 200));
    expect(llmLines().filter((l) => JSON.stringify(l.request).includes(marker))).toHaveLength(1);
  });
});
