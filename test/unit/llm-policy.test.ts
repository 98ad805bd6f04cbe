// The pure parts of the LLM-aware policy: model globs, what a request asks for, the ledger's
// day and bucket arithmetic (with an injected clock), and `sluice suggest`'s grouping.
import { describe, expect, it } from 'vitest';
import { modelMatches } from '../../src/budget/model-glob.ts';
import { createLedger, emptyDay, priceOf } from '../../src/budget/ledger.ts';
import { readLlmRequest, topLevelKeys } from '../../src/steps/llm-policy/request-fields.ts';
import { suggestAllow, suggestionsToToml } from '../../src/audit/suggest.ts';
import { parseConfig } from '../../src/config/load.ts';
import { forTerminal } from '../../src/cli/logs.ts';
import type { BudgetSettings } from '../../src/config/types.ts';

const NO_BUDGET: BudgetSettings = { requestsPerMinute: undefined, tokensPerDay: undefined, usdPerDay: undefined, models: [] };

describe('model globs', () => {
  it.each([
    ['claude-sonnet-4-*', 'claude-sonnet-4-5-20250929', true],
    ['claude-sonnet-4-*', 'claude-sonnet-3-7', false],
    ['claude-*-4-*', 'claude-opus-4-1', true],
    ['*-mini', 'gpt-4o-mini', true],
    ['gpt-4o', 'gpt-4o-mini', false],
    ['a*a', 'a', false],
    ['*', '', true],
  ])('%s ~ %s: %s', (glob, model, expected) => expect(modelMatches(glob, model)).toBe(expected));

  it('is linear on adversarial input', () => {
    const started = performance.now();
    modelMatches(`${'*a'.repeat(100)}b`, 'a'.repeat(100_000));
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe('what an LLM request asks for', () => {
  it('lists top-level keys, nested objects and strings skipped', () => {
    expect(topLevelKeys('{"model":"x","messages":[{"model":"y"}],"a\\"b":{"model":1},"max_tokens":5}')).toEqual(['model', 'messages', 'a"b', 'max_tokens']);
  });

  it('reads the model and every token-limit field', () => {
    const r = readLlmRequest(Buffer.from(JSON.stringify({ model: 'm', max_tokens: 5, max_completion_tokens: 6, generationConfig: { maxOutputTokens: 7 } })), '/v1/x');
    expect(r.ok && r.fields).toEqual({ model: 'm', limits: [{ path: ['max_tokens'], value: 5 }, { path: ['max_completion_tokens'], value: 6 }, { path: ['generationConfig', 'maxOutputTokens'], value: 7 }] });
  });

  it('refuses a key repeated in another case, /models/ twice, and reads a realtime session\'s model from the query', () => {
    expect(readLlmRequest(Buffer.from('{"model":"a","MODEL":"b"}'), '/').ok).toBe(false);
    expect(readLlmRequest(undefined, '/v1beta/models/a/models/b:generateContent').ok).toBe(false);
    const session = readLlmRequest(undefined, '/v1/realtime?model=gpt-realtime', true);
    expect(session.ok && session.fields.model).toBe('gpt-realtime');
    expect(readLlmRequest(undefined, '/v1/realtime?model=a&model=b', true).ok).toBe(false);
  });

  it('refuses duplicates, non-JSON, and a path that disagrees with the body', () => {
    expect(readLlmRequest(Buffer.from('{"model":"a","model":"b"}'), '/').ok).toBe(false);
    expect(readLlmRequest(Buffer.from('{"max_tokens":1,"max_tokens":99999}'), '/').ok).toBe(false);
    expect(readLlmRequest(Buffer.from('not json'), '/').ok).toBe(false);
    expect(readLlmRequest(Buffer.from('{"model":"a"}'), '/v1beta/models/b:generateContent').ok).toBe(false);
    const gemini = readLlmRequest(undefined, '/v1beta/models/gemini-2.5-pro%3AstreamGenerateContent?alt=sse');
    expect(gemini.ok && gemini.fields.model).toBe('gemini-2.5-pro');
  });
});

describe('the ledger', () => {
  it('refuses once a day budget is spent, and starts over at midnight UTC', () => {
    let now = Date.UTC(2026, 11, 4, 23, 59, 0);
    const ledger = createLedger(emptyDay(now), () => now);
    const budget = { ...NO_BUDGET, tokensPerDay: 100 };
    expect(ledger.checkBudget(budget, 'm').ok).toBe(true);
    ledger.record('m', { input_tokens: 60, output_tokens: 40 }, []);
    const spent = ledger.checkBudget(budget, 'm');
    expect(spent).toMatchObject({ ok: false, reason: 'budget_exhausted', retryAfterSeconds: 60 });
    now += 61_000;
    expect(ledger.checkBudget(budget, 'm').ok).toBe(true);
    expect(ledger.snapshot().day).toBe('2026-12-05');
  });

  it('keeps per-model budgets apart and prices by the first matching glob', () => {
    const now = Date.UTC(2026, 11, 4, 12);
    const prices = [{ pattern: 'claude-opus-*', input: 15, output: 75 }, { pattern: 'claude-*', input: 3, output: 15 }];
    expect(priceOf('claude-opus-4-1', { input_tokens: 1_000_000, output_tokens: 0 }, prices)).toBe(15);
    const ledger = createLedger(emptyDay(now), () => now);
    const budget = { ...NO_BUDGET, models: [{ pattern: 'claude-opus-*', tokensPerDay: 10, usdPerDay: undefined }] };
    ledger.record('claude-opus-4-1', { input_tokens: 10, output_tokens: 0 }, prices);
    expect(ledger.checkBudget(budget, 'claude-opus-4-1').ok).toBe(false);
    expect(ledger.checkBudget(budget, 'claude-sonnet-4-5').ok).toBe(true);
  });

  it('keeps model names as plain keys, and a bounded number of them', () => {
    const now = Date.UTC(2026, 11, 4, 12);
    const ledger = createLedger(emptyDay(now), () => now);
    ledger.record('__proto__', { input_tokens: 1, output_tokens: 1 }, []);
    expect(({} as Record<string, unknown>).tokens).toBeUndefined();
    for (let i = 0; i < 500; i++) ledger.record(`model-${i}`, { input_tokens: 1, output_tokens: 0 }, []);
    const models = ledger.snapshot().models;
    expect(Object.keys(models).length).toBeLessThanOrEqual(201);
    expect(models.other?.tokens).toBeGreaterThan(0);
    expect(ledger.snapshot().tokens).toBe(502);
  });

  it('refills the per-minute bucket continuously', () => {
    let now = 0;
    const ledger = createLedger(emptyDay(now), () => now);
    const budget = { ...NO_BUDGET, requestsPerMinute: 2 };
    expect(ledger.takeRequest(budget).ok).toBe(true);
    expect(ledger.takeRequest(budget).ok).toBe(true);
    expect(ledger.takeRequest(budget)).toMatchObject({ ok: false, reason: 'rate_limited', retryAfterSeconds: 30 });
    now += 30_000;
    expect(ledger.takeRequest(budget).ok).toBe(true);
  });
});

describe('sluice suggest', () => {
  const line = (host: string, method: string, path: string, decision = 'would_deny', reason = 'not_allowlisted') =>
    ({ time: '2026-12-04T10:00:00.000Z', host, method, path, decision, reason });

  it('groups by host, keeps narrow methods and prefixes, ignores other refusals', () => {
    const s = suggestAllow([
      line('a.test', 'GET', '/repos/x/issues?page=1'),
      line('a.test', 'POST', '/repos/y/pulls'),
      line('b.test', 'GET', '/one'),
      line('b.test', 'GET', '/two/three'),
      line('c.test', 'GET', '/x', 'deny', 'private_address'),
      line('d.test', 'DELETE', '/', 'allow', undefined),
    ]);
    expect(s.map((x) => [x.host, x.methods, x.paths])).toEqual([
      ['a.test', ['GET', 'POST'], ['/repos/**']],
      ['b.test', ['GET'], ['/one', '/two/**']],
    ]);
  });

  it('prints TOML that the config loader accepts, whatever the paths looked like', () => {
    const s = suggestAllow([
      line('weird.test', 'GET', '/a*b/c'),
      line('weird.test', 'GET', '/a*b/d'),
      line('dots.test', 'GET', '/x/../y'),
      line('many.test', 'GET', '/1/x'), line('many.test', 'PUT', '/2/x'), line('many.test', 'PATCH', '/3/x'),
      line('many.test', 'DELETE', '/4/x'), line('many.test', 'GET', '/5/x'),
    ]);
    const toml = suggestionsToToml(s);
    expect(() => parseConfig(toml, '/tmp/suggested.toml')).not.toThrow();
    const many = s.find((x) => x.host === 'many.test');
    expect(many).toMatchObject({ methods: undefined, paths: undefined });
    expect(s.find((x) => x.host === 'weird.test')?.paths).toEqual(['/*/**']);
  });
});

describe('sluice logs for a terminal', () => {
  it('shows control characters an agent put in the log as escapes, keeps line feeds', () => {
    expect(forTerminal('a\u001b[2Kb\u001b]52;c;x\u0007\u009b\nend\t.')).toBe('a\\u001b[2Kb\\u001b]52;c;x\\u0007\\u009b\nend\t.');
  });
});
