// access.ndjson: lines are formatted when their batch is written (batched-file.ts), but each
// carries the time its record was written, and they reach the file in the order written.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
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
});
