// The SSE parser sees text exactly as the network splits it: events cut anywhere (even inside
// a CRLF), several per write, CR/LF/CRLF line ends, comments, multi-line data, oversized events.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { SseParser, type SseEvent } from '../../src/audit/llm/sse.ts';

function parse(pieces: string[], maxEventChars?: number): { events: SseEvent[]; parser: SseParser } {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e), { maxEventChars });
  for (const p of pieces) parser.push(p);
  parser.end();
  return { events, parser };
}

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/llm/${name}`, import.meta.url), 'utf8');

describe('SseParser', () => {
  it('parses events with names, data and ids, in one write', () => {
    const { events } = parse(['event: a\ndata: 1\nid: x\n\nevent: b\ndata: 2\n\n']);
    expect(events).toEqual([
      { event: 'a', data: '1', id: 'x' },
      { event: 'b', data: '2', id: 'x' },
    ]);
  });

  it('defaults the event type to "message" and strips one leading space only', () => {
    const { events } = parse(['data:no-space\n\ndata:  two spaces\n\n']);
    expect(events).toEqual([
      { event: 'message', data: 'no-space', id: undefined },
      { event: 'message', data: ' two spaces', id: undefined },
    ]);
  });

  it('joins multi-line data with newlines and skips comments and retry', () => {
    const { events } = parse([': keep-alive\nretry: 100\ndata: line 1\n: inside\ndata: line 2\ndata\n\n']);
    expect(events).toEqual([{ event: 'message', data: 'line 1\nline 2\n', id: undefined }]);
  });

  it('does not dispatch an event without data, nor an unterminated one at the end', () => {
    const { events } = parse(['event: ping\n\n', 'data: cut off']);
    expect(events).toEqual([]);
  });

  it('accepts CRLF, CR and LF line ends', () => {
    const { events } = parse(['data: crlf\r\n\r\ndata: cr\r\rdata: lf\n\n']);
    expect(events.map((e) => e.data)).toEqual(['crlf', 'cr', 'lf']);
  });

  it('treats a CRLF split across two writes as one line end', () => {
    const { events } = parse(['data: a\r', '\n\r', '\ndata: b\r\n', '\r\n']);
    expect(events.map((e) => e.data)).toEqual(['a', 'b']);
  });

  for (const name of ['anthropic-tool-use.sse', 'openai-chat-tools.sse', 'gemini-stream.sse', 'openai-responses-text.sse']) {
    it(`gives the same events for ${name} whatever the split point`, () => {
      const text = fixture(name);
      const whole = parse([text]).events;
      expect(whole.length).toBeGreaterThanOrEqual(4);
      for (let cut = 1; cut < text.length; cut++) {
        const { events } = parse([text.slice(0, cut), text.slice(cut)]);
        expect(events, `split at ${cut}`).toEqual(whole);
      }
      // Byte-sized writes, and everything at once.
      expect(parse([...text]).events).toEqual(whole);
    });
  }

  it('drops an event larger than the bound and keeps parsing after it', () => {
    const big = 'x'.repeat(100);
    const { events, parser } = parse([`data: ${big}\n\ndata: ok\n\n`, `data: ${big.slice(0, 40)}`, `${big}\ndata: more\n\ndata: fine\n\n`], 50);
    expect(events.map((e) => e.data)).toEqual(['ok', 'fine']);
    expect(parser.dropped).toBe(2);
  });
});
