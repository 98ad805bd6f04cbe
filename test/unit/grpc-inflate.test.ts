// gRPC's per-message compression undone for the scrub: compressed messages come out inflated
// as flag-0 messages of their new length, split anywhere; plain ones stream through unchanged;
// whatever cannot be inflated stops the output for good, and nothing stays reserved.
import { describe, expect, it } from 'vitest';
import { deflateSync, gzipSync } from 'node:zlib';
import { createGrpcInflater, MAX_GRPC_COMPRESSED_BYTES, MAX_GRPC_MESSAGE_BYTES } from '../../src/upstream/grpc-inflate.ts';
import { BufferBudget } from '../../src/pipeline/buffer-budget.ts';
import { grpcMessage as message } from '../helpers/grpc-message.ts';


/** Everything the inflater lets out when `stream` arrives in pieces cut at `cuts`. */
function run(encoding: string | undefined, stream: Buffer, cuts: number[], budget = new BufferBudget(1 << 30)): { out: Buffer; failure?: string; budget: BufferBudget } {
  const inflater = createGrpcInflater(encoding, { budget });
  const parts: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    parts.push(inflater.push(stream.subarray(from, cut)));
    from = cut;
  }
  parts.push(inflater.end());
  return { out: Buffer.concat(parts), failure: inflater.failure, budget };
}

describe('gRPC message inflater', () => {
  const plain = Buffer.concat([message('first plain'), message('')]);
  const text = 'a reply quoting Bearer real-token-0123456789 in full';

  it('passes plain messages through unchanged, each byte as it comes', () => {
    const inflater = createGrpcInflater('gzip');
    expect(inflater.push(plain.subarray(0, 3))).toHaveLength(0);
    expect(inflater.push(plain.subarray(3, 9))).toEqual(plain.subarray(0, 9));
    expect(inflater.push(plain.subarray(9))).toEqual(plain.subarray(9));
    expect(inflater.end()).toHaveLength(0);
    expect(inflater.failure).toBeUndefined();
  });

  it('inflates gzip and deflate messages into flag-0 messages of their new length, cut anywhere', () => {
    for (const [encoding, compress] of [['gzip', gzipSync], ['deflate', deflateSync]] as const) {
      const stream = Buffer.concat([message('before'), message(compress(text), 1), message('after')]);
      const expected = Buffer.concat([message('before'), message(text), message('after')]);
      for (let cut = 0; cut <= stream.length; cut++) {
        const r = run(` ${encoding.toUpperCase()} `, stream, [cut]);
        expect(r.failure, `${encoding} cut at ${cut}`).toBeUndefined();
        expect(r.out.equals(expected), `${encoding} cut at ${cut}`).toBe(true);
        expect(r.budget.usedBytes).toBe(0);
      }
    }
  });

  it('stops for good at a compressed message it cannot inflate, whatever follows', () => {
    const zipped = message(gzipSync(text), 1);
    for (const encoding of [undefined, 'identity', 'snappy', 'zstd']) {
      const r = run(encoding, Buffer.concat([message('ok'), zipped, message('later')]), [7]);
      expect(r.out).toEqual(message('ok'));
      expect(r.failure).toMatch(/whose encoding \((none named|not gzip or deflate)\) sluice cannot inflate/);
    }
    const corrupt = run('gzip', Buffer.concat([message(Buffer.from('not gzip at all'), 1), message('later')]), []);
    expect(corrupt.out).toHaveLength(0);
    expect(corrupt.failure).toMatch(/could not be inflated/);
  });

  it('refuses a bomb and an oversized message without holding them', () => {
    const bomb = gzipSync(Buffer.alloc(MAX_GRPC_MESSAGE_BYTES + 1));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const r = run('gzip', message(bomb, 1), []);
    expect(r.out).toHaveLength(0);
    expect(r.failure).toMatch(/could not be inflated/);
    // Declared longer than any message that inflates within the limit: refused at the header,
    // before any payload is held. Up to that length the inflated size alone decides (no
    // compression-size oracle): incompressible data at the limit, compressed, is let through.
    const incompressible = gzipSync(Buffer.from(Array.from({ length: MAX_GRPC_MESSAGE_BYTES }, (_, i) => (i * 7919 + (i >> 8) * 104729) & 0xff)), { level: 0 });
    expect(incompressible.length).toBeGreaterThan(MAX_GRPC_MESSAGE_BYTES);
    expect(run('gzip', message(incompressible, 1), []).failure).toBeUndefined();
    const header = message(Buffer.alloc(0), 1);
    header.writeUInt32BE(MAX_GRPC_COMPRESSED_BYTES + 1, 1);
    const budget = new BufferBudget(1 << 30);
    const inflater = createGrpcInflater('gzip', { budget });
    expect(inflater.push(header)).toHaveLength(0);
    expect(inflater.failure).toMatch(/too long to inflate within 4194304 bytes/);
    expect(budget.usedBytes).toBe(0);
  });

  it('holds a compressed message against the shared budget, and stops when it is spent', () => {
    const zipped = message(gzipSync(text), 1);
    const budget = new BufferBudget(8 << 20);
    const inflater = createGrpcInflater('gzip', { budget });
    inflater.push(zipped.subarray(0, 10));
    // The most a message may take, whatever its length: room must not depend on how well it compressed.
    expect(budget.usedBytes).toBe(MAX_GRPC_COMPRESSED_BYTES);
    inflater.push(zipped.subarray(10));
    expect(budget.usedBytes).toBe(0);
    const small = run('gzip', zipped, [], new BufferBudget(8));
    expect(small.out).toHaveLength(0);
    expect(small.failure).toMatch(/buffer_budget_bytes/);
  });

  it('fails a stream that ends inside a held message, and releases what it held', () => {
    const zipped = message(gzipSync(text), 1);
    const budget = new BufferBudget(8 << 20);
    const inflater = createGrpcInflater('gzip', { budget });
    expect(inflater.push(zipped.subarray(0, zipped.length - 1))).toHaveLength(0);
    expect(inflater.end()).toHaveLength(0);
    expect(inflater.failure).toMatch(/ended inside a compressed message/);
    expect(budget.usedBytes).toBe(0);
  });

  it('inflates Connect\'s compressed end-of-stream message into a plain one (flag 3 → 2)', () => {
    const end = JSON.stringify({ error: { code: 'internal', message: 'quoting Bearer real-token' } });
    const connect = createGrpcInflater('gzip', { extraFlag: 0x02 });
    const stream = Buffer.concat([message(gzipSync(text), 1), message(gzipSync(end), 3)]);
    expect(Buffer.concat([connect.push(stream), connect.end()])).toEqual(Buffer.concat([message(text), message(end, 2)]));
    expect(connect.failure).toBeUndefined();
  });

  it('reads a flag byte other than 0 or 1 as no gRPC framing, but passes gRPC-Web\'s trailer frame', () => {
    const trailerFrame = message('grpc-status:0\r\n', 0x80);
    // The reason names no byte it read: those may be a real value's.
    expect(run('gzip', Buffer.concat([message('ok'), trailerFrame]), []).failure).toBe('a message whose flag byte is not this framing\'s');
    const web = createGrpcInflater('gzip', { extraFlag: 0x80 });
    const stream = Buffer.concat([message(gzipSync(text), 1), trailerFrame]);
    expect(Buffer.concat([web.push(stream), web.end()])).toEqual(Buffer.concat([message(text), trailerFrame]));
    expect(web.failure).toBeUndefined();
  });
});
