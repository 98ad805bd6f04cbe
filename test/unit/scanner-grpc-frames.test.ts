// A gRPC stream is released at its message ends, so a bidi call (send one message, wait for the
// reply) is not held for the scanner's window; a secret inside a message is still replaced, and
// where a stream is released depends only on its framing.
import { describe, expect, it } from 'vitest';
import { createGrpcFrameTracker, isGrpcContentType } from '../../src/credentials/grpc-frames.ts';
import { formsPattern } from '../../src/credentials/secret-forms.ts';
import { replacementFor } from '../../src/credentials/same-form.ts';
import { createStreamReplacer, createStreamScanner } from '../../src/credentials/stream-replace.ts';
import { grpcMessage as message } from '../helpers/grpc-message.ts';

const SECRET = 'grpc-real-secret-value-0001';
const SURROGATE = 'grpc-surrogate-000000000001';
const pattern = formsPattern([{ text: SECRET, base64: true }]);


const scrubber = () => createStreamReplacer(pattern, (raw, needle) => replacementFor(raw, needle, SURROGATE, true), { frames: createGrpcFrameTracker() });

describe('gRPC framing', () => {
  it('recognises gRPC content types (not gRPC-Web, whose trailer frame starts with 0x80)', () => {
    expect(isGrpcContentType('application/grpc')).toBe(true);
    expect(isGrpcContentType('application/grpc+proto')).toBe(true);
    expect(isGrpcContentType('Application/GRPC; charset=x')).toBe(true);
    expect(isGrpcContentType('application/grpc-web+proto')).toBe(false);
    expect(isGrpcContentType('application/json')).toBe(false);
  });

  it('releases each whole message at once, though it is shorter than the window', () => {
    const ping = message('ping');
    expect(ping.length).toBeLessThan(pattern.window);
    const r = scrubber();
    expect(r.push(ping)).toEqual(ping);
    expect(r.push(ping.subarray(0, 6))).toEqual(ping.subarray(0, 5));
    expect(r.push(ping.subarray(6))).toEqual(ping.subarray(5));
    const s = createStreamScanner(pattern, { frames: createGrpcFrameTracker() });
    expect(s.push(ping)).toEqual({ pass: ping });
  });

  it('still replaces a secret inside a message, cut anywhere, keeping the length prefix true', () => {
    const stream = Buffer.concat([message(`echo ${SECRET}`), message('x'.repeat(300)), message(`again ${SECRET} end`)]);
    const expected = Buffer.concat([message(`echo ${SURROGATE}`), message('x'.repeat(300)), message(`again ${SURROGATE} end`)]);
    for (let i = 0; i <= stream.length; i += 7) {
      const r = scrubber();
      const out = Buffer.concat([r.push(stream.subarray(0, i)), r.push(stream.subarray(i)), r.end()]);
      expect(out.equals(expected), `cut at ${i}`).toBe(true);
    }
  });

  it('trusts no message end after a header whose flag byte is neither 0 nor 1', () => {
    const bogus = Buffer.concat([Buffer.from([0x41, 0, 0, 0, 3]), Buffer.from('xyz')]);
    const t = createGrpcFrameTracker();
    t.push(Buffer.concat([message('abc'), bogus, message('ok'), message('')]));
    expect(t.lastEnd).toBe(8);
    // Flag 1 (compressed) is framing.
    const c = createGrpcFrameTracker();
    const compressed = message('zz');
    compressed[0] = 1;
    c.push(Buffer.concat([message('abc'), compressed]));
    expect(c.lastEnd).toBe(15);
  });

  it('tracks message ends across chunks, empty messages included', () => {
    const t = createGrpcFrameTracker();
    const stream = Buffer.concat([message(''), message('abc'), message('defgh')]);
    t.push(stream.subarray(0, 7));
    expect(t.lastEnd).toBe(5);
    t.push(stream.subarray(7, 13));
    expect(t.lastEnd).toBe(13);
    t.push(stream.subarray(13));
    expect(t.lastEnd).toBe(stream.length);
  });
});
