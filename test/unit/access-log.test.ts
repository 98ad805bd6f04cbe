// access.ndjson: lines are formatted when their batch is written (batched-file.ts), but each
// carries the time its record was written, and they reach the file in the order written.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAccessLog } from '../../src/audit/access-log.ts';
import { makeTempDir } from '../helpers/temp-dir.ts';

describe('access log', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('stamps each line with the time its record was written, not the time its batch was', () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-05T09:00:00.000Z'), toFake: ['Date'] });
    const log = createAccessLog(makeTempDir('access-log'), 'agent-1');
    log.write({ decision: 'allow', host: 'a.example', status: 200 });
    vi.setSystemTime(Date.parse('2026-12-05T09:00:00.150Z'));
    log.write({ decision: 'deny', host: 'b.example', reason: 'not_allowlisted' });
    vi.setSystemTime(Date.parse('2026-12-05T09:00:07.000Z'));
    log.flush();
    const lines = readFileSync(log.path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.time, l.host])).toEqual([
      ['2026-12-05T09:00:00.000Z', 'a.example'],
      ['2026-12-05T09:00:00.150Z', 'b.example'],
    ]);
    expect(lines[0]).toMatchObject({ level: 'info', agent: 'agent-1', decision: 'allow', status: 200 });
  });

  // The drain deadline ends sluice with process.exit, and an uncaught error ends it too: the
  // lines still waiting for their batch are written on the way out, not lost.
  for (const [how, ending] of [['process.exit(1)', 'process.exit(1);'], ['an uncaught error', "throw new Error('boom');"]] as const) {
    it(`writes the waiting lines when the process ends with ${how}`, () => {
      const dir = makeTempDir('access-log-exit');
      const module = fileURLToPath(new URL('../../src/audit/access-log.ts', import.meta.url));
      const script = `const { createAccessLog } = await import(${JSON.stringify(module)});
        const log = createAccessLog(${JSON.stringify(dir)}, 'agent-1');
        log.write({ decision: 'deny', host: 'last.example', reason: 'not_allowlisted' });
        ${ending}`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
      expect(child.status, child.stderr).toBe(1);
      const lines = readFileSync(join(dir, 'access.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines).toEqual([expect.objectContaining({ host: 'last.example', decision: 'deny', agent: 'agent-1' })]);
    });
  }
});
