// LLM-aware policy (DESIGN §8) through the official @anthropic-ai/sdk and openai SDKs and plain
// fetch, against a fake provider that replays real responses (real usage figures): model
// allowlists and token ceilings decided before anything leaves, errors the SDKs raise, day
// budgets counted from real usage (also across a restart), requests per minute with a
// Retry-After the SDKs honour.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import https from 'node:https';
import { WebSocket } from 'ws';
import { Agent, fetch as undiciFetch } from 'undici';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createTestPki, type TestPki } from '../helpers/pki.ts';
import { startDnsmasq, type TestResolver } from '../helpers/dnsmasq.ts';
import { lookupLoopback } from '../helpers/loopback-lookup.ts';
import { startTestSluice, type TestSluice } from '../helpers/sluice.ts';
import { startLlmOrigin, type LlmOrigin } from '../helpers/llm-origin.ts';
import { logsCommand } from '../../src/cli/logs.ts';
import { skipUnlessTools } from '../helpers/tools.ts';

const skip = skipUnlessTools('llm-policy', ['openssl', 'dnsmasq']);

const ORIGIN_ADDRESS = '127.0.0.6';
const NAMES = ['api.anthropic.com', 'api.openai.com', 'generativelanguage.googleapis.com'];
const ANTHROPIC_SURROGATE = 'sk-ant-api03-sluice-POLICY-SURROGATE-01';
const OPENAI_SURROGATE = 'sk-sluice-openai-POLICY-SURROGATE-002';
/** anthropic-tool-use.json reports 2095 input + 503 output tokens. */
const TOOL_USE_TOKENS = 2095 + 503;

let pki: TestPki;
let origin: LlmOrigin;
let dns: TestResolver;
let cert: { cert: string; key: string };

function baseToml(extra: string, logDir?: string): string {
  return `
[proxy]
agent = "policy-it"
extra_upstream_ca = "${pki.caCert}"
${logDir === undefined ? '' : `log_dir = "${logDir}"`}

[upstream]
https_port = ${origin.port}
connect_timeout_ms = 2000

[dns]
upstream = "${dns.address}"

[credentials.anthropic]
hosts = ["api.anthropic.com"]
surrogate = "${ANTHROPIC_SURROGATE}"
secret = { env = "SLUICE_POLICY_ANTHROPIC_KEY" }

[credentials.openai]
hosts = ["api.openai.com"]
surrogate = "${OPENAI_SURROGATE}"
secret = { env = "SLUICE_POLICY_OPENAI_KEY" }
${extra}`;
}

const LLM_RULES = (anthropicExtra = '', openaiExtra = '', geminiExtra = ''): string => `
[[allow]]
host = "api.anthropic.com"
llm = "anthropic"
private = true
${anthropicExtra}

[[allow]]
host = "api.openai.com"
llm = "openai"
private = true
${openaiExtra}

[[allow]]
host = "generativelanguage.googleapis.com"
llm = "gemini"
private = true
${geminiExtra}
`;

function clientsFor(t: TestSluice): { anthropic: (retries?: number) => Anthropic; openai: () => OpenAI; fetch: typeof undiciFetch; close: () => Promise<void> } {
  const dispatcher = new Agent({
    connect: {
      ca: readFileSync(t.caCert, 'utf8'),
      lookup: (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
    } as never,
  });
  const fetchVia = ((url: string, init?: Record<string, unknown>) => undiciFetch(url, { ...init, dispatcher } as never)) as never;
  return {
    anthropic: (retries = 0) => new Anthropic({ apiKey: ANTHROPIC_SURROGATE, baseURL: `https://api.anthropic.com:${t.sluice.ports.https}`, fetch: fetchVia, maxRetries: retries }),
    openai: () => new OpenAI({ apiKey: OPENAI_SURROGATE, baseURL: `https://api.openai.com:${t.sluice.ports.https}/v1`, fetch: fetchVia, maxRetries: 0 }),
    fetch: fetchVia,
    close: () => dispatcher.close(),
  };
}

const toolUse = (model: string, maxTokens = 1024) => ({
  model,
  max_tokens: maxTokens,
  messages: [{ role: 'user' as const, content: `hello ${randomUUID()}` }],
});

beforeAll(async () => {
  if (skip) return;
  process.env.SLUICE_POLICY_ANTHROPIC_KEY = `sk-ant-api03-REAL-${randomUUID()}`;
  process.env.SLUICE_POLICY_OPENAI_KEY = `sk-proj-REAL-${randomUUID()}`;
  pki = await createTestPki();
  cert = await pki.issue(NAMES);
  origin = await startLlmOrigin(cert, ORIGIN_ADDRESS);
  dns = await startDnsmasq(Object.fromEntries(NAMES.map((n) => [n, [ORIGIN_ADDRESS]])));
});

afterAll(async () => {
  await origin?.stop();
  await dns?.stop();
});

describe.skipIf(skip)('models and token ceilings', () => {
  let t: TestSluice;
  let c: ReturnType<typeof clientsFor>;
  beforeAll(async () => {
    t = await startTestSluice(baseToml(LLM_RULES(
      'models = ["claude-haiku-*"]\nmax_tokens = 2048',
      'models = ["gpt-4o*"]\nmax_tokens = 1000\nclamp_max_tokens = true',
      'models = ["gemini-2.5-flash"]',
    )));
    c = clientsFor(t);
  });
  afterAll(async () => {
    await c?.close();
    await t?.stop();
  });

  it('lets an allowed model through', async () => {
    const message = await c.anthropic().messages.create(toolUse('claude-haiku-4-5'), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } });
    expect(message.usage.input_tokens).toBe(2095);
  });

  it('refuses another model before anything leaves, as an SDK error naming the allowed models', async () => {
    const before = origin.received.length;
    const error = await c.anthropic().messages.create(toolUse('claude-opus-4-1'), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((error as Error).message).toContain('claude-haiku-*');
    expect((error as Error).message).toContain('model_not_allowed');
    expect(origin.received.length).toBe(before);
    await t.waitForLog((l) => l.reason === 'model_not_allowed' && l.status === 403);
  });

  it('refuses a streamed request for another model the same way', async () => {
    const error = await (async () => {
      const stream = await c.openai().chat.completions.create({ model: 'o3-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-test-fixture': 'openai-chat-text.sse' } });
      for await (const _ of stream) { /* drain */ }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((error as { code?: string }).code).toBe('model_not_allowed');
  });

  it('refuses the responses API for another model', async () => {
    const error = await c.openai().responses.create({ model: 'o3', input: 'hi' }, { headers: { 'x-test-fixture': 'openai-responses-text.sse' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it('refuses a max_tokens over the ceiling', async () => {
    const error = await c.anthropic().messages.create(toolUse('claude-haiku-4-5', 4096), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect((error as Error).message).toContain('max_tokens_exceeded');
  });

  it('clamps max_tokens where the rule says so, and sets one where the request had none', async () => {
    const marker = randomUUID();
    const stream = await c.openai().chat.completions.create({ model: 'gpt-4o-mini', stream: true, max_tokens: 5000, messages: [{ role: 'user', content: marker }] }, { headers: { 'x-test-fixture': 'openai-chat-text.sse' } });
    for await (const _ of stream) { /* drain */ }
    const sent = origin.received.find((r) => r.body.toString().includes(marker));
    expect(JSON.parse(String(sent?.body)).max_tokens).toBe(1000);
    const marker2 = randomUUID();
    const stream2 = await c.openai().chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: marker2 }] }, { headers: { 'x-test-fixture': 'openai-chat-text.sse' } });
    for await (const _ of stream2) { /* drain */ }
    const sent2 = origin.received.find((r) => r.body.toString().includes(marker2));
    expect(JSON.parse(String(sent2?.body)).max_completion_tokens).toBe(1000);
  });

  it('reads Gemini\'s model from the path, percent-encoded or not, and answers in Gemini\'s error shape', async () => {
    for (const path of ['/v1beta/models/gemini-2.5-pro:generateContent', '/v1beta/models/gemini-2.5-pro%3AgenerateContent']) {
      const res = await c.fetch(`https://generativelanguage.googleapis.com:${t.sluice.ports.https}${path}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ contents: [{ parts: [{ text: 'hi' }] }] }),
      });
      expect(res.status, path).toBe(403);
      expect(await res.json()).toMatchObject({ error: { code: 403, status: 'PERMISSION_DENIED' } });
    }
    // An encoded slash is refused outright: servers disagree on whether it separates segments.
    const encoded = await c.fetch(`https://generativelanguage.googleapis.com:${t.sluice.ports.https}/v1beta/models%2Fgemini-2.5-pro:streamGenerateContent`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
    });
    expect(encoded.status).toBe(400);
    expect(await encoded.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } });
  });

  it('refuses a Gemini path with dot segments (the server could resolve it to another model)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      // node:https keeps the path as written (fetch would resolve the dots first).
      const req = https.request({
        host: '127.0.0.1', port: t.sluice.ports.https, servername: 'generativelanguage.googleapis.com', ca: readFileSync(t.caCert), method: 'POST',
        path: '/v1beta/models/gemini-2.5-flash/../gemini-2.5-pro:generateContent',
        headers: { host: 'generativelanguage.googleapis.com', 'content-type': 'application/json' },
      }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{"contents":[]}');
    });
    expect(status).toBe(400);
  });

  it('checks the model of a realtime (WebSocket) session from its query', async () => {
    const refused = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`wss://api.openai.com:${t.sluice.ports.https}/v1/realtime?model=o1-realtime`, {
        ca: readFileSync(t.caCert),
        headers: { authorization: `Bearer ${OPENAI_SURROGATE}` },
        lookup: lookupLoopback,
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('the session opened')));
      ws.on('error', () => {});
    });
    expect(refused).toBe(403);
    await t.waitForLog((l) => l.host === 'api.openai.com' && String(l.path).startsWith('/v1/realtime') && l.reason === 'model_not_allowed');
  });

  it('refuses a body that names the model twice (parsers disagree on which wins)', async () => {
    const res = await c.fetch(`https://api.anthropic.com:${t.sluice.ports.https}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': ANTHROPIC_SURROGATE, 'anthropic-version': '2023-06-01' },
      body: '{"model":"claude-haiku-4-5","max_tokens":10,"model":"claude-opus-4-1","messages":[]}',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  it('checks a model on a path it does not recognise', async () => {
    const res = await c.fetch(`https://api.anthropic.com:${t.sluice.ports.https}/v1/messages/../messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': ANTHROPIC_SURROGATE, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify(toolUse('claude-opus-4-1')),
    });
    expect([400, 403]).toContain(res.status);
  });
});

describe.skipIf(skip)('day budgets, counted from real usage', () => {
  it('a budget crossed by one call refuses the next until the UTC day turns, and survives a restart', async () => {
    // Its own log folder, kept across the three sluices below.
    const logDir = mkdtempSync(join(tmpdir(), 'sluice-budget-'));
    const t = await startTestSluice(baseToml(`[budget]\ntokens_per_day = 3000\n${LLM_RULES()}`, logDir));
    const c = clientsFor(t);
    await c.anthropic().messages.create(toolUse('claude-haiku-4-5'), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } });
    // 2598 of 3000: the next call is still allowed, and crosses the budget.
    await c.anthropic().messages.create(toolUse('claude-haiku-4-5'), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } });
    const error = await c.anthropic().messages.create(toolUse('claude-haiku-4-5'), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect((error as Error).message).toContain('budget_exhausted');
    const retryAfter = Number((error as InstanceType<typeof Anthropic.RateLimitError>).headers?.get('retry-after'));
    const now = new Date();
    const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    expect(Math.abs(retryAfter - (midnight - Date.now()) / 1000)).toBeLessThan(5);
    // Saved at most every 200 ms: what a kill -9 can lose.
    const saved = (): number => (JSON.parse(readFileSync(join(logDir, 'budget.json'), 'utf8')) as { tokens: number }).tokens;
    await expect.poll(saved, { timeout: 2_000 }).toBe(2 * TOOL_USE_TOKENS);
    await c.close();
    await t.stop();

    // A new sluice on the same log folder: still spent.
    const again = await startTestSluice(baseToml(`[budget]\ntokens_per_day = 3000\n${LLM_RULES()}`, logDir));
    const c2 = clientsFor(again);
    const after = await c2.anthropic().messages.create(toolUse('claude-haiku-4-5'), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } }).catch((e: unknown) => e);
    expect(after).toBeInstanceOf(Anthropic.RateLimitError);

    // Corrupt state: logged, rebuilt from llm.ndjson, never a crash.
    await c2.close();
    await again.stop();
    writeFileSync(join(logDir, 'budget.json'), '{"day": "garbage');
    const third = await startTestSluice(baseToml(`[budget]\ntokens_per_day = 3000\n${LLM_RULES()}`, logDir));
    const c3 = clientsFor(third);
    const rebuilt = await c3.anthropic().messages.create(toolUse('claude-haiku-4-5'), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } }).catch((e: unknown) => e);
    expect(rebuilt).toBeInstanceOf(Anthropic.RateLimitError);
    expect(third.sluice.runtime().services.budget.snapshot().tokens).toBeGreaterThanOrEqual(2 * TOOL_USE_TOKENS);
    await c3.close();
    await third.stop();
    // `sluice logs --usage` shows what the budget counted today.
    const out: string[] = [];
    await logsCommand(['--dir', logDir, '--usage'], { out: (s: string) => out.push(s), err: (s: string) => out.push(s) } as never);
    expect(out.join('')).toMatch(/budget \d{4}-\d{2}-\d{2} \(UTC, what \[budget\] counts\): 5196 tokens/);
    rmSync(logDir, { recursive: true, force: true });
  });

  it('a concurrent burst overspends by at most the calls already in flight', async () => {
    const t = await startTestSluice(baseToml(`[budget]\ntokens_per_day = 1000\n${LLM_RULES()}`));
    const c = clientsFor(t);
    const before = origin.received.length;
    const results = await Promise.allSettled(Array.from({ length: 4 }, () =>
      c.anthropic().messages.create(toolUse('claude-haiku-4-5'), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } })));
    // All four were checked before any usage came back: they were all in flight.
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(4);
    const next = await c.anthropic().messages.create(toolUse('claude-haiku-4-5'), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } }).catch((e: unknown) => e);
    expect(next).toBeInstanceOf(Anthropic.RateLimitError);
    expect(origin.received.length - before).toBe(4);
    expect(t.sluice.runtime().services.budget.snapshot().tokens).toBe(4 * TOOL_USE_TOKENS);
    await c.close();
    await t.stop();
  });

  it('asks a streamed OpenAI call for its usage when a budget applies', async () => {
    const t = await startTestSluice(baseToml(`[budget]\ntokens_per_day = 1000000\n${LLM_RULES()}`));
    const c = clientsFor(t);
    const marker = randomUUID();
    const stream = await c.openai().chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: marker }] }, { headers: { 'x-test-fixture': 'openai-chat-text.sse' } });
    for await (const _ of stream) { /* drain */ }
    const sent = origin.received.find((r) => r.body.toString().includes(marker));
    expect(JSON.parse(String(sent?.body)).stream_options).toEqual({ include_usage: true });
    await c.close();
    await t.stop();
  });

  it('counts a streamed response\'s usage (message_start + message_delta)', async () => {
    const t = await startTestSluice(baseToml(`[budget]\ntokens_per_day = 1000000\n${LLM_RULES()}`));
    const c = clientsFor(t);
    const stream = await c.anthropic().messages.create({ ...toolUse('claude-haiku-4-5'), stream: true }, { headers: { 'x-test-fixture': 'anthropic-tool-use.sse' } });
    let output = 0;
    for await (const event of stream) if (event.type === 'message_delta') output = event.usage.output_tokens;
    expect(output).toBeGreaterThan(0);
    await expect.poll(() => t.sluice.runtime().services.budget.snapshot().tokens, { timeout: 3_000 }).toBe(561);
    await c.close();
    await t.stop();
  });

  it('a spend budget in USD from the price table, per model', async () => {
    // 2095 × 1.0 + 503 × 5.0 per million = 0.00461 USD a call.
    const t = await startTestSluice(baseToml(`[budget]\nusd_per_day = 0.008\n[prices."claude-haiku-*"]\ninput = 1.0\noutput = 5.0\n${LLM_RULES()}`));
    const c = clientsFor(t);
    await c.anthropic().messages.create(toolUse('claude-haiku-4-5'), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } });
    await c.anthropic().messages.create(toolUse('claude-haiku-4-5'), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } });
    expect(t.sluice.runtime().services.budget.snapshot().usd).toBeCloseTo(2 * 0.00461, 6);
    const error = await c.anthropic().messages.create(toolUse('claude-haiku-4-5'), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect((error as Error).message).toContain('USD');
    await c.close();
    await t.stop();
  });
});

describe.skipIf(skip)('requests per minute', () => {
  it('answers 429 rate_limited with Retry-After, which the SDK honours', async () => {
    const t = await startTestSluice(baseToml(`[budget]\nrequests_per_minute = 60\n${LLM_RULES()}`));
    const c = clientsFor(t);
    const call = () => c.fetch(`https://api.anthropic.com:${t.sluice.ports.https}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': ANTHROPIC_SURROGATE, 'anthropic-version': '2023-06-01', 'x-test-fixture': 'anthropic-tool-use.json' },
      body: JSON.stringify(toolUse('claude-haiku-4-5')),
    });
    // A full bucket holds 60; it refills at one a second while the burst runs.
    let sent = 0;
    let refused = await call();
    while (refused.status === 200 && sent < 100) {
      await refused.arrayBuffer();
      sent += 1;
      refused = await call();
    }
    expect(sent).toBeGreaterThanOrEqual(60);
    expect(sent).toBeLessThan(75);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');
    // With retries on, the SDK waits Retry-After and succeeds.
    const started = Date.now();
    const message = await c.anthropic(2).messages.create(toolUse('claude-haiku-4-5'), { headers: { 'x-test-fixture': 'anthropic-tool-use.json' } });
    expect(message.usage.output_tokens).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    await t.waitForLog((l) => l.reason === 'rate_limited' && l.status === 429);
    await c.close();
    await t.stop();
  });
});

describe('budget state file', () => {
  it('is absent on a fresh folder: nothing spent', async () => {
    const { loadBudgetState } = await import('../../src/budget/state-file.ts');
    const dir = join(process.cwd(), `.tmp-budget-${randomUUID()}`);
    try {
      expect(existsSync(dir)).toBe(false);
      expect(loadBudgetState(dir, [], Date.now()).state.tokens).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
