// access.ndjson lines are formatted by hand (src/audit/access-line.ts) for speed; they must stay
// byte for byte what pino wrote before, so that every reader of the log sees no change.
import { afterEach, describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import { accessLineFormatter } from '../../src/audit/access-line.ts';
import type { AccessRecord } from '../../src/audit/access-log.ts';

const AT = Date.parse('2026-12-04T22:31:05.123Z');

function pinoLine(agent: string, record: AccessRecord): string {
  let line = '';
  const logger = pino(
    {
      base: { agent },
      timestamp: () => `,"time":"${new Date(AT).toISOString()}"`,
      messageKey: 'message',
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: (l: string) => { line = l; } },
  );
  logger.info(record);
  return line;
}

const records: AccessRecord[] = [
  { conn: 'ab-1', listener: 'tls', sni: 'api.example.com', host: 'api.example.com', method: 'GET', path: '/v1/x?q=1', status: 200, decision: 'allow', reason: undefined, rule: 'allow[0]', bytes_in: 0, bytes_out: 1024, ms: 0.41, ttfb_ms: 0.3, outcome: 'complete' },
  { decision: 'deny', listener: 'tls', src_port: 40000, reason: 'no_sni', message: 'TLS ClientHello without a server name (SNI)' },
  { decision: 'deny', host: 'a"b\\c', path: '/\u0000\u001b[31m\u2028\ud800é😀', method: 'PO\tST', status: 403, reason: 'not_allowlisted', message: 'x'.repeat(300) },
  { decision: 'deny', reason: 'model_not_allowed', message: 'model "a\u2029b\u0085c" is not allowed' },
  { decision: 'allow', trace: [{ step: 'credentials', action: 'swap', detail: 'header authorization' }], ms: 12, status: 0 },
  { decision: 'would_deny', reason: 'not_allowlisted', credential: undefined, qtype: 'AAAA' },
];

describe('access.ndjson line format', () => {
  afterEach(() => { vi.useRealTimers(); });

  it.each(records.map((r, i) => [i, r] as const))('record %i is byte for byte the line pino wrote', (_i, record) => {
    vi.useFakeTimers({ now: AT });
    const line = accessLineFormatter('my-agent "x"')(record);
    // pino left U+0085/U+2028/U+2029 raw; sluice escapes them (one line stays one line for
    // readers that split on Unicode line ends).
    const escaped = pinoLine('my-agent "x"', record).replace(/[\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    expect(line).toBe(escaped);
    expect(line.slice(0, -1).split(/\r\n|[\n\r\u0085\u2028\u2029]/)).toHaveLength(1);
    expect(JSON.parse(line)).toEqual(JSON.parse(pinoLine('my-agent "x"', record)));
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
  });

  it('leaves undefined fields out and keeps the time current', () => {
    vi.useFakeTimers({ now: AT });
    const format = accessLineFormatter('a');
    const first = JSON.parse(format({ decision: 'allow', reason: undefined })) as Record<string, unknown>;
    expect(first).toEqual({ level: 'info', time: '2026-12-04T22:31:05.123Z', agent: 'a', decision: 'allow' });
    vi.setSystemTime(AT + 1500);
    const later = JSON.parse(format({ decision: 'deny' })) as Record<string, unknown>;
    expect(later.time).toBe('2026-12-04T22:31:06.623Z');
  });
});
