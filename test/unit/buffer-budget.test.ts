// One global budget for every buffer (DESIGN.md §1, issue 11 item 6): each holder has its own
// cap (413 / truncation) and all of them draw on one total (503 over_capacity); every path
// (end, error, abort) gives its share back.
import { PassThrough } from 'node:stream';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BufferBudget, overCapacity } from '../../src/pipeline/buffer-budget.ts';
import { readBodyCapped, releaseBufferedBody } from '../../src/sigv4/buffered-body.ts';
import { RequestCapture } from '../../src/audit/llm/request-capture.ts';
import { ResponseCapture } from '../../src/audit/llm/response-capture.ts';
import { SluiceError } from '../../src/errors/codes.ts';

describe('BufferBudget', () => {
  it('grows reservations up to the total, refuses past it, and takes everything back on release', () => {
    const budget = new BufferBudget(100);
    const a = budget.open();
    const b = budget.open();
    expect(a.grow(60)).toBe(true);
    expect(b.grow(50)).toBe(false);
    expect(b.bytes).toBe(0);
    expect(b.grow(40)).toBe(true);
    expect(budget.usedBytes).toBe(100);
    a.shrink(10);
    expect([a.bytes, budget.usedBytes]).toEqual([50, 90]);
    a.release();
    a.release();
    expect(a.grow(1)).toBe(false);
    b.release();
    expect(budget.usedBytes).toBe(0);
  });

  it('a smaller total (reload) refuses new growth but lets holders keep what they have', () => {
    const budget = new BufferBudget(100);
    const a = budget.open();
    a.grow(80);
    budget.setTotal(50);
    expect(budget.open().grow(1)).toBe(false);
    a.release();
    expect(budget.open().grow(50)).toBe(true);
  });

  it('over_capacity is a 503', () => {
    const e = overCapacity('a body');
    expect([e.reason, e.status]).toEqual(['over_capacity', 503]);
  });
});

/** A request body stream: the chunks are written, then it ends, errors or closes early. */
function body(chunks: number[], then: 'end' | 'error' | 'close' | 'hang' = 'end'): PassThrough {
  const s = new PassThrough();
  setImmediate(() => {
    for (const n of chunks) s.write(Buffer.alloc(n, 0x61));
    if (then === 'end') s.end();
    else if (then === 'error') s.destroy(new Error('reset by peer'));
    else if (then === 'close') s.destroy();
  });
  return s;
}

describe('SigV4 body buffering draws on the budget', () => {
  it('holds the body\'s size until released', async () => {
    const budget = new BufferBudget(1000);
    const got = await readBodyCapped(body([300, 200]), 600, undefined, budget);
    expect(Buffer.isBuffer(got) && got.length).toBe(500);
    expect(budget.usedBytes).toBe(500);
    releaseBufferedBody(got as Buffer);
    expect(budget.usedBytes).toBe(0);
  });

  it('past the budget: 503 over_capacity, and its share is given back', async () => {
    const budget = new BufferBudget(1000);
    const other = budget.open();
    other.grow(700);
    const got = await readBodyCapped(body([200, 200]), 600, undefined, budget);
    expect(got).toBeInstanceOf(SluiceError);
    expect([(got as SluiceError).reason, (got as SluiceError).status]).toEqual(['over_capacity', 503]);
    expect(budget.usedBytes).toBe(700);
  });

  it('a declared length reserves nothing until its bytes arrive (no pinning the budget by declaring)', async () => {
    const budget = new BufferBudget(1000);
    budget.open().grow(900);
    const got = await readBodyCapped(body([500]), 600, 500, budget);
    expect((got as SluiceError).reason).toBe('over_capacity');
    // A body that declares a lot and sends a little holds only what it sent.
    const small = new BufferBudget(1000);
    const kept = await readBodyCapped(body([10]), 600, 500, small);
    expect(small.usedBytes).toBe(10);
    releaseBufferedBody(kept as Buffer);
  });

  it('a body that stalls is refused after the deadline and gives its share back', async () => {
    const budget = new BufferBudget(1000);
    const stalled = new PassThrough();
    stalled.write(Buffer.alloc(100));
    const got = await readBodyCapped(stalled, 600, 500, budget, 200);
    expect([(got as SluiceError).reason, (got as SluiceError).status]).toEqual(['client_timeout', 408]);
    expect(budget.usedBytes).toBe(0);
    stalled.destroy();
  });

  it('past the per-request cap it is still 413, with nothing kept', async () => {
    const budget = new BufferBudget(10_000);
    expect(((await readBodyCapped(body([400, 400]), 600, undefined, budget)) as SluiceError).reason).toBe('body_too_large');
    expect(((await readBodyCapped(body([1]), 600, 700, budget)) as SluiceError).status).toBe(413);
    expect(budget.usedBytes).toBe(0);
  });

  it('gives everything back when the client errors or goes away mid-body', async () => {
    const budget = new BufferBudget(10_000);
    for (const end of ['error', 'close'] as const) {
      expect(await readBodyCapped(body([300], end), 600, undefined, budget)).toBeInstanceOf(SluiceError);
      expect(await readBodyCapped(body([300], end), 600, 500, budget)).toBeInstanceOf(SluiceError);
      expect(budget.usedBytes).toBe(0);
    }
  });

  it('a body shorter than its declared length keeps only what arrived', async () => {
    const budget = new BufferBudget(10_000);
    const got = await readBodyCapped(body([100]), 600, 500, budget);
    expect(budget.usedBytes).toBe(100);
    releaseBufferedBody(got as Buffer);
    expect(budget.usedBytes).toBe(0);
  });
});

describe('LLM captures draw on the budget', () => {
  it('a request capture stops (truncated) when the budget is spent, and text() gives it back', () => {
    const budget = new BufferBudget(100);
    const c = new RequestCapture(1000, budget);
    c.push(Buffer.from('a'.repeat(80)));
    expect(budget.usedBytes).toBe(80);
    c.push(Buffer.from('b'.repeat(40)));
    expect(c.truncated).toBe(true);
    expect(budget.usedBytes).toBe(80);
    expect(c.text(undefined)).toBe('a'.repeat(80));
    expect(budget.usedBytes).toBe(0);
    expect(c.text(undefined)).toBe('a'.repeat(80));
  });

  it('a request capture\'s own cap still applies, and release() gives back what it held', () => {
    const budget = new BufferBudget(10_000);
    const c = new RequestCapture(50, budget);
    c.push(Buffer.alloc(80));
    expect([c.truncated, budget.usedBytes]).toEqual([true, 50]);
    c.release();
    expect(budget.usedBytes).toBe(0);
  });

  it('a response capture grows with what it is handed, up to its own ceiling, and stops when the budget is spent', async () => {
    const budget = new BufferBudget(1_000_000);
    const c = new ResponseCapture(undefined, 1000, budget);
    c.start({ 'content-type': 'application/json' });
    c.data(Buffer.from('{"a":"'));
    expect(budget.usedBytes).toBe(6);
    // A long response: the reservation stops at the capture's ceiling, not the bytes seen.
    for (let i = 0; i < 200; i++) c.data(Buffer.alloc(64 * 1024, 0x62));
    expect(budget.usedBytes).toBeLessThan(9 * 1024 * 1024);
    await new Promise<void>((resolve) => c.end(resolve));
    expect(c.result().truncated).toBe(true);
    expect(budget.usedBytes).toBe(0);

    const tight = new BufferBudget(10);
    const d = new ResponseCapture(undefined, 1000, tight);
    d.start({ 'content-type': 'text/plain', 'content-encoding': 'gzip' });
    d.data(zlib.gzipSync(Buffer.from('hello world, hello world')));
    await new Promise<void>((resolve) => d.end(resolve));
    expect(d.result().truncated).toBe(true);
    expect(tight.usedBytes).toBe(0);
  });

  it('abandon() (shutdown) gives the budget back', () => {
    const budget = new BufferBudget(1000);
    const c = new ResponseCapture(undefined, 1000, budget);
    c.start({ 'content-type': 'text/plain' });
    c.data(Buffer.alloc(100));
    c.abandon();
    expect(budget.usedBytes).toBe(0);
  });
});
