// Which response bodies are enveloped messages, where their compression is named, and how a
// call ends when a message could not be inspected: as an error the agent's client reads as
// one (gRPC trailers, gRPC-Web's trailer frame, Connect's end-of-stream error), with one fixed
// text that says nothing of the bytes.
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { envelopesFor, isEnveloped } from '../../src/steps/credentials/envelopes.ts';
import { grpcMessage as message } from '../helpers/grpc-message.ts';


const owner = {};
const zipped = message(gzipSync('{"text":"hello"}'), 1);

describe('enveloped responses', () => {
  it('knows gRPC, gRPC-Web and Connect streams by content type, or by a compressed encoding named', () => {
    for (const type of ['application/grpc', 'Application/GRPC+proto', 'application/grpc-web+proto', 'application/grpc-web-text', 'application/connect+json']) {
      expect(isEnveloped({ 'content-type': type }), type).toBe(true);
    }
    for (const type of ['application/json', 'application/connect', 'text/grpc', undefined]) {
      expect(isEnveloped({ 'content-type': type }), String(type)).toBe(false);
      expect(envelopesFor({ 'content-type': type }, { bodySwapHost: false, owner })).toBeUndefined();
      expect(envelopesFor({ 'content-type': type, 'grpc-encoding': 'identity' }, { bodySwapHost: false, owner })).toBeUndefined();
    }
    // A gRPC client inflates a flagged message whatever the content type says.
    const mislabeled = envelopesFor({ 'content-type': 'text/plain', 'grpc-encoding': 'gzip' }, { bodySwapHost: false, owner });
    expect(mislabeled?.push(zipped)).toEqual(message('{"text":"hello"}'));
    expect(isEnveloped({ 'content-type': 'text/plain', 'connect-content-encoding': 'gzip' })).toBe(true);
  });

  it('drops a content-length that inflating makes false (and that tells how well the body compressed)', () => {
    const compressed: Record<string, string | undefined> = { 'content-type': 'application/grpc-web+proto', 'grpc-encoding': 'gzip', 'content-length': String(zipped.length) };
    envelopesFor(compressed, { bodySwapHost: false, owner });
    expect(compressed['content-length']).toBeUndefined();
    const plain: Record<string, string | undefined> = { 'content-type': 'application/grpc-web+proto', 'content-length': '7' };
    envelopesFor(plain, { bodySwapHost: false, owner });
    expect(plain['content-length']).toBe('7');
  });

  it('inflates with the encoding each framing names (Connect: connect-content-encoding)', () => {
    const plain = message('{"text":"hello"}');
    const grpc = envelopesFor({ 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' }, { bodySwapHost: false, owner });
    expect(grpc?.push(zipped)).toEqual(plain);
    const connect = envelopesFor({ 'content-type': 'application/connect+json', 'connect-content-encoding': 'gzip', 'grpc-encoding': 'snappy' }, { bodySwapHost: false, owner });
    expect(connect?.push(zipped)).toEqual(plain);
  });

  it('ends a failed gRPC call INTERNAL in its trailers, set even when the failure comes after them', () => {
    const e = envelopesFor({ 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' }, { bodySwapHost: false, owner });
    const trailers: Record<string, string | undefined> = { 'grpc-status': '0' };
    e?.push(zipped.subarray(0, 10));
    e?.mark(trailers);
    expect(trailers['grpc-status']).toBe('0');
    expect(e?.end()).toHaveLength(0);
    e?.mark(trailers);
    expect(trailers['grpc-status']).toBe('13');
    expect(decodeURIComponent(String(trailers['grpc-message']))).toMatch(/^sluice cut this response: a message it could not inspect for secrets/);
  });

  it('ends a failed gRPC-Web call with a trailer frame, and a Connect stream with its end-of-stream error', () => {
    const web = envelopesFor({ 'content-type': 'application/grpc-web+proto', 'grpc-encoding': 'br' }, { bodySwapHost: false, owner });
    expect(web?.push(zipped)).toHaveLength(0);
    const webEnd = web?.end() as Buffer;
    expect(webEnd[0]).toBe(0x80);
    expect(webEnd.subarray(5).toString()).toMatch(/^grpc-status:13\r\ngrpc-message:sluice%20cut%20this%20response/);
    const connect = envelopesFor({ 'content-type': 'application/connect+proto' }, { bodySwapHost: false, owner });
    expect(connect?.push(zipped)).toHaveLength(0);
    const connectEnd = connect?.end() as Buffer;
    expect(connectEnd[0]).toBe(0x02);
    expect(JSON.parse(connectEnd.subarray(5).toString())).toEqual({ error: { code: 'internal', message: expect.stringMatching(/could not inspect for secrets/) as unknown } });
  });

  it('on a body-swap host reads no frames: a compressed response is refused on its headers, a plain one left to the scrub', () => {
    const swap = envelopesFor({ 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' }, { bodySwapHost: true, owner });
    expect(swap?.failure).toMatch(/swapped into request bodies/);
    expect(swap?.push(message('ok'))).toHaveLength(0);
    // Not walked, so no bytes the agent placed (a real value's among them) decide a failure.
    expect(envelopesFor({ 'content-type': 'application/grpc' }, { bodySwapHost: true, owner })).toBeUndefined();
    expect(envelopesFor({ 'content-type': 'application/grpc', 'grpc-encoding': 'identity' }, { bodySwapHost: true, owner })).toBeUndefined();
  });

  it('refuses a compressed gRPC-Web text body anywhere, and leaves a plain one to the scrub', () => {
    expect(envelopesFor({ 'content-type': 'application/grpc-web-text', 'grpc-encoding': 'identity' }, { bodySwapHost: false, owner })).toBeUndefined();
    const text = envelopesFor({ 'content-type': 'application/grpc-web-text', 'grpc-encoding': 'gzip' }, { bodySwapHost: false, owner });
    expect(text?.push(Buffer.from('AAAAAAZoZWxsbyE='))).toHaveLength(0);
    expect(text?.failure).toMatch(/gRPC-Web text/);
  });
});
