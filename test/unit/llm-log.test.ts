// llm.ndjson: the exact fields of DESIGN.md §4 on each line, size-based rotation, a problem
// reported (and lines kept) while the file cannot be written, recovery, and in-flight
// exchanges written as cut off at shutdown.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLlmLog, type LlmLog, type LlmRecord } from '../../src/audit/llm/llm-log.ts';

const dirs: string[] = [];
const logs: LlmLog[] = [];
afterEach(() => {
  for (const log of logs.splice(0)) log.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-llmlog-'));
  dirs.push(dir);
  return dir;
}

function open(dir: string, options: Partial<Parameters<typeof createLlmLog>[0]> = {}): LlmLog {
  const log = createLlmLog({ logDir: dir, agent: 'unit-agent', maxBytes: 1024 * 1024, keep: 2, retryMs: 50, ...options });
  logs.push(log);
  return log;
}

function record(id: string, extra: Partial<LlmRecord> = {}): LlmRecord {
  return {
    id, provider: 'anthropic', model: 'claude-x', stream: true, status: 200, request: { model: 'claude-x' }, response: { content: [] },
    usage: { input_tokens: 1, output_tokens: 2 }, usage_raw: { input_tokens: 1, output_tokens: 2 }, ttfb_ms: 1.5, ms: 3, truncated: false, outcome: 'complete', ...extra,
  };
}

function lines(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('llm.ndjson lines', () => {
  it('hold exactly the documented fields, in order, with time and agent first', async () => {
    const dir = tempDir();
    const log = open(dir);
    log.write(record('a.1'));
    await log.flushInFlight();
    const [line] = lines(join(dir, 'llm.ndjson'));
    expect(Object.keys(line ?? {})).toEqual(['time', 'agent', 'id', 'provider', 'model', 'stream', 'status', 'request', 'response', 'usage', 'usage_raw', 'ttfb_ms', 'ms', 'truncated', 'outcome']);
    expect(line).toMatchObject({ agent: 'unit-agent', id: 'a.1', outcome: 'complete' });
    expect(new Date(String(line?.time)).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });
});

describe('rotation', () => {
  it('rotates at max_bytes and keeps only `keep` old files', async () => {
    const dir = tempDir();
    const log = open(dir, { maxBytes: 2000, keep: 2 });
    const big = 'x'.repeat(400);
    for (let i = 0; i < 12; i++) {
      log.write(record(`r.${i}`, { response: big }));
      await log.flushInFlight();
    }
    const path = join(dir, 'llm.ndjson');
    expect(existsSync(`${path}.1`)).toBe(true);
    expect(existsSync(`${path}.2`)).toBe(true);
    expect(existsSync(`${path}.3`)).toBe(false);
    const all = [...lines(`${path}.2`), ...lines(`${path}.1`), ...lines(path)];
    // Newest lines survive, in order, none split across files.
    const ids = all.map((l) => l.id);
    expect(ids.length).toBeGreaterThanOrEqual(3);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => `r.${12 - ids.length + i}`));
    for (const file of [path, `${path}.1`, `${path}.2`]) expect(readFileSync(file).length).toBeLessThanOrEqual(2000);
  });
});

describe('failure', () => {
  it('reports a full disk, keeps the line, and writes it once the file is writable again', async () => {
    const dir = tempDir();
    const path = join(dir, 'llm.ndjson');
    // Every write to /dev/full fails with ENOSPC: a disk that is full.
    symlinkSync('/dev/full', path);
    const problems: (string | undefined)[] = [];
    const log = open(dir, { onProblem: (p) => problems.push(p) });
    expect(log.problem()).toBeUndefined();
    log.write(record('kept'));
    await log.flushInFlight(200);
    expect(log.problem()).toMatch(/ENOSPC/);
    expect(problems).toHaveLength(1);
    // The disk is freed (here: the full device replaced by a plain file).
    unlinkSync(path);
    const deadline = Date.now() + 3000;
    while (log.problem() !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(log.problem()).toBeUndefined();
    expect(problems.at(-1)).toBeUndefined();
    await log.flushInFlight();
    expect(lines(path).map((l) => l.id)).toEqual(['kept']);
  });

  it('reports a log folder that cannot be created', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'not-a-dir'), '');
    const log = open(join(dir, 'not-a-dir', 'logs'));
    expect(log.problem()).toMatch(/cannot write .*ENOTDIR/);
  });
});

describe('in-flight exchanges at shutdown', () => {
  it('are written as cut off, once, then untracked', async () => {
    const dir = tempDir();
    const log = open(dir);
    let asked = 0;
    const untrack = log.track({
      cutOff: () => {
        asked++;
        return record('inflight', { outcome: 'cut_off' });
      },
    });
    log.track({ cutOff: () => undefined });
    await log.flushInFlight();
    await log.flushInFlight();
    untrack();
    expect(asked).toBe(1);
    expect(lines(join(dir, 'llm.ndjson')).map((l) => [l.id, l.outcome])).toEqual([['inflight', 'cut_off']]);
  });
});
