// The LLM log's work runs in slices off the agent's path (src/audit/llm/log-work.ts): in the
// order it was queued, yielding to the event loop between slices (100 streams ending at once
// held the loop 13–39 ms when each built its line in one go), a failing task reported and the
// rest still run. And an exchange that had ended keeps its outcome when sluice shuts down
// while its line is still waiting in the queue.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deferLogWork, pendingLogWork, runLogWorkNow } from '../../src/audit/llm/log-work.ts';
import { createLlmLog, type LlmLog } from '../../src/audit/llm/llm-log.ts';
import { routeLlmRequest } from '../../src/audit/llm/providers.ts';
import { ExchangeRecorder } from '../../src/steps/llm-audit/exchange-recorder.ts';
import type { Exchange } from '../../src/pipeline/exchange.ts';
import { fixtureBytes } from '../helpers/llm-origin.ts';

const idle = (): Promise<void> => new Promise((resolve) => {
  const check = (): void => {
    if (pendingLogWork() === 0) resolve();
    else setTimeout(check, 1);
  };
  check();
});

const busy = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* the work a line takes */ }
};

describe('deferLogWork', () => {
  it('runs tasks later, in the order they were queued', async () => {
    const ran: number[] = [];
    for (let i = 0; i < 50; i++) deferLogWork(() => ran.push(i), () => undefined);
    expect(ran).toEqual([]);
    await idle();
    expect(ran).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('lets timers run between slices instead of doing a burst in one go', async () => {
    const finished: number[] = [];
    const timerFiredAfter: number[] = [];
    // 40 tasks of 0.5 ms each: 20 ms of work, which one turn would have done at once.
    for (let i = 0; i < 40; i++) deferLogWork(() => {
      busy(0.5);
      finished.push(i);
    }, () => undefined);
    await new Promise<void>((resolve) => setTimeout(() => {
      timerFiredAfter.push(finished.length);
      resolve();
    }, 0));
    await idle();
    expect(finished).toHaveLength(40);
    // The timer got its turn while most of the work was still queued (a slice of SLICE_MS holds
    // a few of these tasks; done in one go, all 40 would have run first).
    expect(timerFiredAfter[0]).toBeLessThan(20);
  });

  it('reports a task that throws to its own handler and goes on with the rest', async () => {
    const errors: unknown[] = [];
    const ran: string[] = [];
    deferLogWork(() => ran.push('a'), (err) => errors.push(err));
    deferLogWork(() => {
      throw new Error('broken reassembly');
    }, (err) => errors.push(err));
    deferLogWork(() => ran.push('c'), (err) => errors.push(err));
    await idle();
    expect(ran).toEqual(['a', 'c']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['broken reassembly']);
  });
});

describe('runLogWorkNow (for the budget: usage of ended exchanges before the next check)', () => {
  it('runs everything queued at once, in order; called from a task, it leaves the queue alone', async () => {
    const ran: string[] = [];
    deferLogWork(() => {
      ran.push('a');
      runLogWorkNow(); // log work reading the budget: must not run the rest inside this task
      ran.push('a-end');
    }, () => undefined);
    deferLogWork(() => ran.push('b'), () => undefined);
    runLogWorkNow();
    expect(ran).toEqual(['a', 'a-end', 'b']);
    expect(pendingLogWork()).toBe(0);
    await idle();
    expect(ran).toEqual(['a', 'a-end', 'b']);
  });
});

describe('an exchange whose line waits in the queue at shutdown', () => {
  const dirs: string[] = [];
  const logs: LlmLog[] = [];
  afterEach(() => {
    for (const log of logs.splice(0)) log.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function setUp(): { log: LlmLog; path: string; recorder: ExchangeRecorder } {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-logwork-'));
    dirs.push(dir);
    const log = createLlmLog({ logDir: dir, agent: 'unit-agent', maxBytes: 1024 * 1024, keep: 2 });
    logs.push(log);
    const ex = {
      conn: { id: 'c1' },
      headers: { 'content-type': 'application/json' },
      path: '/v1/messages',
      startedAt: performance.now(),
      runtime: {
        config: { prices: [] },
        credentials: { redact: (text: string) => text },
        services: { opsLog: { error: (o: unknown) => { throw new Error(`llm log error: ${String((o as { err?: Error }).err)}`); } }, budget: { record: () => undefined } },
      },
    } as unknown as Exchange;
    const recorder = new ExchangeRecorder(ex, log, routeLlmRequest('anthropic', 'POST', '/v1/messages'), 'anthropic', 1024 * 1024);
    recorder.requestTransform.push(Buffer.from(JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 5, stream: true, messages: [] })));
    return { log, path: join(dir, 'llm.ndjson'), recorder };
  }

  const lines = (path: string): Array<Record<string, unknown>> =>
    existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) : [];

  it('is written as it ended, complete, not as cut off', async () => {
    const { log, path, recorder } = setUp();
    recorder.responseHook.start?.(200, { 'content-type': 'text/event-stream' });
    recorder.responseHook.data?.(fixtureBytes('anthropic-tool-use.sse'));
    recorder.responseHook.done?.('complete', 200);
    expect(pendingLogWork()).toBeGreaterThan(0);
    // SIGTERM now: the line is still queued.
    await log.flushInFlight();
    await idle();
    const written = lines(path);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ outcome: 'complete', status: 200, stream: true, model: 'claude-haiku-4-5' });
    expect((written[0]?.response as { stop_reason?: string }).stop_reason).toBe('tool_use');
  });

  it('one still streaming is written as cut off, once', async () => {
    const { log, path, recorder } = setUp();
    recorder.responseHook.start?.(200, { 'content-type': 'text/event-stream' });
    recorder.responseHook.data?.(fixtureBytes('anthropic-tool-use.sse').subarray(0, 400));
    await log.flushInFlight();
    recorder.responseHook.done?.('cut_off', 200);
    await idle();
    expect(lines(path).map((l) => l.outcome)).toEqual(['cut_off']);
  });
});
