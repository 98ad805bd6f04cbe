// Constant memory (issue 7): 200 MB of chunk-signed upload re-signed by the aws-chunked
// transform, fed in network-sized pieces, never grows the heap by more than a few chunks.
import { describe, expect, it } from 'vitest';
import { createHash, createHmac } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createChunkResigner } from '../../src/sigv4/chunked.ts';
import { SluiceError } from '../../src/errors/codes.ts';

const MB = 1024 * 1024;
// A real collector between samples, so garbage the test itself makes is not counted.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
/**
 * This isolate's heap and external (Buffer) memory, after collections with turns of the event
 * loop between them so that freed Buffer memory is really released.
 */
const used = async (): Promise<number> => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const h = v8.getHeapStatistics();
  return h.used_heap_size + h.external_memory;
};
const TOTAL = 200 * MB;
const CHUNK = 64 * 1024;
const EMPTY = createHash('sha256').digest('hex');
const AGENT_KEY = createHmac('sha256', 'agent').update('k').digest();
const REAL_KEY = createHmac('sha256', 'real').update('k').digest();
const DATE = '20261123T180000Z';
const SCOPE = '20261123/us-east-1/s3/aws4_request';

describe('aws-chunked re-signing at constant memory', () => {
  it('re-signs 200 MB with live memory growth under 16 MB, output length equal to input', async () => {
    const t = createChunkResigner({ amzDate: DATE, scope: SCOPE, trailer: false, maxChunkBytes: 8 * MB, credentialName: 'aws', agent: { signingKey: AGENT_KEY, seed: 'a'.repeat(64) }, real: { signingKey: REAL_KEY, seed: 'b'.repeat(64) } });
    const data = Buffer.alloc(CHUNK, 7);
    const dataHash = createHash('sha256').update(data).digest('hex');
    let prev = 'a'.repeat(64);
    const frame = (piece: Buffer, hash: string): Buffer => {
      const sig = createHmac('sha256', AGENT_KEY).update(['AWS4-HMAC-SHA256-PAYLOAD', DATE, SCOPE, prev, EMPTY, hash].join('\n')).digest('hex');
      prev = sig;
      return Buffer.concat([Buffer.from(`${piece.length.toString(16)};chunk-signature=${sig}\r\n`), piece, Buffer.from('\r\n')]);
    };
    const before = await used();
    let inBytes = 0;
    let outBytes = 0;
    for (let sent = 0; sent < TOTAL; sent += CHUNK) {
      const framed = frame(data, dataHash);
      inBytes += framed.length;
      // Network-sized pieces that do not line up with chunk boundaries.
      for (let i = 0; i < framed.length; i += 16_000) {
        const out = t.push(framed.subarray(i, i + 16_000));
        if (out instanceof SluiceError) throw out;
        outBytes += out.length;
      }
    }
    // Measured before the final chunk: a transform that held the body would hold it all now.
    // (Sampled mid-stream, external memory shows freed-but-not-yet-finalised buffers.)
    const growth = (await used()) - before;
    const last = frame(Buffer.alloc(0), EMPTY);
    const out = t.push(Buffer.concat([last]));
    if (out instanceof SluiceError) throw out;
    outBytes += out.length + (t.end() as Buffer).length;
    inBytes += last.length;
    expect(outBytes).toBe(inBytes);
    expect(growth).toBeLessThan(16 * MB);
  }, 60_000);
});
