// The log's copy of a request body: bounded by max_body_bytes (truncated: true beyond), and
// decoded when the agent compressed it.
import { describe, expect, it } from 'vitest';
import zlib from 'node:zlib';
import { RequestCapture } from '../../src/audit/llm/request-capture.ts';

describe('RequestCapture', () => {
  it('keeps the whole body under the cap', () => {
    const c = new RequestCapture(100);
    c.push(Buffer.from('{"model":'));
    c.push(Buffer.from('"x"}'));
    expect(c.text(undefined)).toBe('{"model":"x"}');
    expect(c.truncated).toBe(false);
  });

  it('keeps exactly the cap and marks the rest as cut', () => {
    const c = new RequestCapture(10);
    c.push(Buffer.from('0123456'));
    c.push(Buffer.from('789abc'));
    c.push(Buffer.from('more'));
    expect(c.text('identity')).toBe('0123456789');
    expect(c.truncated).toBe(true);
  });

  it('decodes gzip, deflate, br and zstd request bodies', () => {
    const body = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'héllo' }] }));
    for (const [coding, encoded] of [['gzip', zlib.gzipSync(body)], ['deflate', zlib.deflateSync(body)], ['br', zlib.brotliCompressSync(body)], ['zstd', zlib.zstdCompressSync(body)]] as const) {
      const c = new RequestCapture(1024);
      c.push(encoded);
      expect(c.text(coding), coding).toBe(body.toString());
    }
  });

  it('does not decode beyond the cap (a compression bomb stays bounded)', () => {
    const c = new RequestCapture(1024);
    c.push(zlib.gzipSync(Buffer.alloc(10 * 1024 * 1024, 'a')));
    expect(c.text('gzip')).toBe('');
    expect(c.truncated).toBe(true);
  });
});
