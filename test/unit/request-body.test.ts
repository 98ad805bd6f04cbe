// The request body on its way to undici (src/upstream/request-body.ts): pieces that queued while
// undici was not reading reach it as one chunk (an h2 upload arrives in pieces smaller than its
// frames; one upstream write per piece doubled what an upload cost), bytes stay intact and in
// order through the transforms, a reader that waits gets a small write at once, and a reader
// that does not read stops the source after a bounded number of bytes.
import { describe, expect, it } from 'vitest';
import { type Duplex, PassThrough, Readable, getDefaultHighWaterMark } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { BODY_PROGRESS_BYTES, QUEUE_BYTES, transformRequestBody } from '../../src/upstream/request-body.ts';
import type { RequestBodyTransform } from '../../src/pipeline/body.ts';
import { SluiceError } from '../../src/errors/codes.ts';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Reads `out` to its end as undici does ('data' events): the chunks as they came. */
function chunksOf(out: Readable): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    out.on('data', (part: Buffer) => parts.push(part));
    out.once('end', () => resolve(parts));
    out.once('error', reject);
  });
}

/** Upper-cases ASCII and holds back its last byte until the next push or the end. */
function holdLastByte(): RequestBodyTransform & { pushes: number } {
  let held = Buffer.alloc(0);
  return {
    name: 'hold-last-byte',
    changesLength: false,
    pushes: 0,
    push(chunk) {
      this.pushes++;
      const all = Buffer.concat([held, Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1')]);
      held = all.subarray(all.length - 1);
      return all.subarray(0, all.length - 1);
    },
    end() {
      return held;
    },
  };
}

describe('transformRequestBody', () => {
  it('hands undici what queued while it was not reading as one chunk, in order and counted', async () => {
    const source = new PassThrough();
    let counted = 0;
    const out = transformRequestBody(source, [], (n) => {
      counted += n;
    });
    // Three h2 frames as Node hands them over: a ~16 KiB piece and a 9-byte one each.
    const pieces = Array.from({ length: 6 }, (_, i) => randomBytes(i % 2 === 0 ? 16_375 : 9));
    for (const p of pieces) source.write(p);
    await turn();
    const reading = chunksOf(out);
    source.end();
    const got = await reading;
    expect(Buffer.concat(got).equals(Buffer.concat(pieces))).toBe(true);
    // One write upstream for all six, where each piece used to be its own.
    expect(got[0]?.length).toBe(Buffer.concat(pieces).length);
    expect(got.length).toBe(1);
    expect(counted).toBe(Buffer.concat(pieces).length);
  });

  it('passes a small write to a reader that waits at once, without waiting for more', async () => {
    const source = new PassThrough();
    const out = transformRequestBody(source, []);
    const first = new Promise<Buffer>((resolve) => out.once('data', resolve));
    await turn();
    source.write(Buffer.from('ping'));
    const got = await Promise.race([first, new Promise<string>((resolve) => setTimeout(() => resolve('timed out'), 2_000))]);
    expect(got).toEqual(Buffer.from('ping'));
    source.end();
    out.resume();
  });

  it('runs every chunk through the transforms in order and releases what they hold at the end', async () => {
    const transform = holdLastByte();
    const source = Readable.from(['abc', 'def', 'ghi'].map((s) => Buffer.from(s)));
    const got = Buffer.concat(await chunksOf(transformRequestBody(source, [transform])));
    expect(got.toString()).toBe('ABCDEFGHI');
    expect(transform.pushes).toBe(3);
  });

  it('stops the request with the error a transform returns', async () => {
    const refusing: RequestBodyTransform = {
      name: 'refuse-x',
      changesLength: false,
      push: (chunk) => (chunk.includes('x') ? new SluiceError('real_secret', 403, 'x in the body') : chunk),
      end: () => Buffer.alloc(0),
    };
    const source = Readable.from([Buffer.from('fine'), Buffer.from('x'), Buffer.from('more')]);
    await expect(chunksOf(transformRequestBody(source, [refusing]))).rejects.toMatchObject({ reason: 'real_secret' });
  });

  it('stops taking bytes from a source whose reader does not read, then relays them all', async () => {
    const total = 4 * 1024 * 1024;
    const body = randomBytes(total);
    let taken = 0;
    const source = new Readable({
      read() {
        if (taken >= total) {
          this.push(null);
          return;
        }
        const piece = body.subarray(taken, taken + 16_384);
        taken += piece.length;
        this.push(piece);
      },
    });
    const out = transformRequestBody(source, []);
    for (let i = 0; i < 50; i++) await turn();
    // The queue, the writable side's buffer, the source's own buffer and one piece in flight.
    expect(taken).toBeGreaterThan(0);
    expect(taken).toBeLessThanOrEqual(QUEUE_BYTES + (out as Duplex).writableHighWaterMark + getDefaultHighWaterMark(false) + 16_384);
    const got = await chunksOf(out);
    expect(createHash('sha256').update(Buffer.concat(got)).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    for (const c of got) expect(c.length).toBeLessThanOrEqual(QUEUE_BYTES + 16_384);
  });

  it('gives up a body that stops arriving while the reader waits for it (client_timeout, 408)', async () => {
    const source = new PassThrough();
    const out = transformRequestBody(source, [], undefined, { stallMs: 150, answered: () => false });
    const failed = new Promise<unknown>((resolve) => out.once('error', resolve));
    out.resume();
    source.write(Buffer.alloc(100));
    const err = await Promise.race([failed, new Promise((resolve) => setTimeout(() => resolve('not given up'), 2_000))]);
    expect(err).toMatchObject({ reason: 'client_timeout', status: 408 });
  });

  it('does not blame the agent for a window in which sluice held it back (a reader that stopped reading)', async () => {
    const source = new PassThrough();
    const out = transformRequestBody(source, [], undefined, { stallMs: 150, answered: () => false });
    let failed: unknown;
    out.once('error', (err) => {
      failed = err;
    });
    // Enough to fill the queue: undici (here: nobody) is not reading, so the agent is paused.
    source.write(Buffer.alloc(QUEUE_BYTES + 16_384));
    await new Promise((r) => setTimeout(r, 700));
    expect(failed).toBeUndefined();
    expect(out.destroyed).toBe(false);
    out.destroy();
  });

  it('keeps a body that brings at least BODY_PROGRESS_BYTES per window', async () => {
    const source = new PassThrough();
    const out = transformRequestBody(source, [], undefined, { stallMs: 200, answered: () => false });
    const reading = chunksOf(out);
    for (let i = 0; i < 6; i++) {
      source.write(Buffer.alloc(BODY_PROGRESS_BYTES, 0x63));
      await new Promise((r) => setTimeout(r, 120));
    }
    source.end();
    expect(Buffer.concat(await reading).length).toBe(6 * BODY_PROGRESS_BYTES);
  });

  it('stops judging once the upstream has answered (then the exchange is for the upstream to end)', async () => {
    const source = new PassThrough();
    let answered = false;
    const out = transformRequestBody(source, [], undefined, { stallMs: 150, answered: () => answered });
    let failed: unknown;
    out.once('error', (err) => {
      failed = err;
    });
    out.resume();
    source.write(Buffer.alloc(100));
    answered = true;
    await new Promise((r) => setTimeout(r, 600));
    expect(failed).toBeUndefined();
    out.destroy();
  });
});
