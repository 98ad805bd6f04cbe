// `sluice logs` reads llm.ndjson (rotated files included) for people: a line per exchange,
// --json, --since, --usage totals per day and model, --show ID, --follow.
import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logsCommand, parseSince } from '../../src/cli/logs.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const ANTHROPIC = {
  time: '2026-05-01T10:00:00.000Z', agent: 'a', id: 'c1.1', provider: 'anthropic', model: 'claude-haiku-4-5', stream: true, status: 200,
  request: { model: 'claude-haiku-4-5', system: 'Be brief.', messages: [{ role: 'user', content: 'Weather in SF?' }], tools: [{ name: 'get_weather' }] },
  response: { content: [{ type: 'text', text: 'Let me check the weather for San Francisco, California, which is often foggy in the summer months of the year.' }, { type: 'tool_use', name: 'get_weather', input: { location: 'SF' } }] },
  usage: { input_tokens: 100, output_tokens: 20 }, usage_raw: {}, ttfb_ms: 300, ms: 1500, truncated: false, outcome: 'complete',
};
const OPENAI = {
  ...ANTHROPIC, time: '2026-05-02T09:00:00.000Z', id: 'c2.1', provider: 'openai', model: 'gpt-4o', stream: false, status: 200,
  request: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] },
  response: { choices: [{ message: { role: 'assistant', content: 'Hello there!' } }] }, usage: { input_tokens: 10, output_tokens: 3 },
};
const GEMINI_CUT = {
  ...ANTHROPIC, time: '2026-05-02T11:00:00.000Z', id: 'c3.1', provider: 'gemini', model: 'gemini-2.0-flash', status: 200, outcome: 'cut_off',
  request: { contents: [{ role: 'user', parts: [{ text: 'fox' }] }] },
  response: { candidates: [{ content: { parts: [{ text: 'The quick brown' }] } }] }, usage: null,
};
const SECOND_ANTHROPIC = { ...ANTHROPIC, time: '2026-05-02T12:00:00.000Z', id: 'c4.1', usage: { input_tokens: 5, output_tokens: 7 } };

function logDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-logs-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'llm.ndjson.2'), `${JSON.stringify(ANTHROPIC)}\n`);
  writeFileSync(join(dir, 'llm.ndjson.1'), `${JSON.stringify(OPENAI)}\nnot json\n`);
  writeFileSync(join(dir, 'llm.ndjson'), `${JSON.stringify(GEMINI_CUT)}\n${JSON.stringify(SECOND_ANTHROPIC)}\n{"torn":`);
  return dir;
}

async function run(args: string[], signal?: AbortSignal): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await logsCommand(args, { out: (t) => (out += t), err: (t) => (err += t), signal });
  return { code, out, err };
}

describe('sluice logs', () => {
  it('prints one line per exchange, oldest first across rotated files', async () => {
    const r = await run(['--dir', logDir()]);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('2026-05-01 10:00:00Z  c1.1  claude-haiku-4-5  200  100→20 tok  1.50s  Let me check the weather for San Francisco, California, which is often foggy in…');
    expect(lines[1]).toContain('gpt-4o  200  10→3 tok');
    expect(lines[1]).toContain('Hello there!');
    expect(lines[2]).toContain('200 cut_off  no usage');
    expect(lines[2]).toContain('The quick brown');
  });

  it('--json prints the lines as written; --since filters by time', async () => {
    const dir = logDir();
    const r = await run(['--dir', dir, '--json', '--since', '2026-05-02T10:00:00Z']);
    expect(r.out.trimEnd().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['c3.1', 'c4.1']);
    expect(parseSince('2h', 10_000_000)).toBe(10_000_000 - 7_200_000);
    expect(parseSince('yesterday-ish')).toBeUndefined();
    expect((await run(['--dir', dir, '--since', 'soon'])).code).toBe(2);
  });

  it('--usage totals tokens per day and model, then per model', async () => {
    const r = await run(['--dir', logDir(), '--usage']);
    const rows = r.out.split('\n').map((l) => l.trim().split(/\s{2,}/));
    expect(rows).toContainEqual(['2026-05-01', 'claude-haiku-4-5', '1', '100', '20']);
    expect(rows).toContainEqual(['2026-05-02', 'claude-haiku-4-5', '1', '5', '7']);
    expect(rows).toContainEqual(['all days', 'claude-haiku-4-5', '2', '105', '27']);
    expect(rows).toContainEqual(['all days', 'gpt-4o', '1', '10', '3']);
    const json = JSON.parse((await run(['--dir', logDir(), '--usage', '--json'])).out) as { byModel: { model: string; input: number }[] };
    expect(json.byModel.find((m) => m.model === 'claude-haiku-4-5')?.input).toBe(105);
  });

  it('--show ID prints the whole turn: system, messages, tools and the answer with its tool call', async () => {
    const r = await run(['--dir', logDir(), '--show', 'c1.1']);
    expect(r.out).toContain('exchange c1.1');
    expect(r.out).toContain('── system ──\nBe brief.');
    expect(r.out).toContain('── user ──\nWeather in SF?');
    expect(r.out).toContain('── tools ──\nget_weather');
    expect(r.out).toContain('[tool get_weather {"location":"SF"}]');
    const missing = await run(['--dir', logDir(), '--show', 'nope']);
    expect(missing.code).toBe(1);
  });

  it('--follow prints lines appended after it started, until stopped', async () => {
    const dir = logDir();
    const controller = new AbortController();
    let out = '';
    const done = logsCommand(['--dir', dir, '--follow', '--since', '2026-05-02T11:30:00Z'], { out: (t) => (out += t), err: () => undefined, signal: controller.signal });
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(join(dir, 'llm.ndjson'), `${JSON.stringify({ ...OPENAI, time: '2026-05-03T00:00:00.000Z', id: 'new.1' })}\n`);
    const deadline = Date.now() + 3000;
    while (!out.includes('new.1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    expect(await done).toBe(0);
    expect(out.trimEnd().split('\n').map((l) => l.split('  ')[1])).toEqual(['c4.1', 'new.1']);
  });

  it('refuses unknown options', async () => {
    const r = await run(['--bogus']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('usage: sluice logs');
  });
});
