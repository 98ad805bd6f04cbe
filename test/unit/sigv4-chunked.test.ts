// aws-chunked re-signing against AWS's documented examples ("Transferring payload in multiple
// chunks": 64 KiB + 1 KiB of 'a', seed 4f232c43…; and the signed-trailer example with a
// CRC32C trailer): with the same key in and out the published bytes come back unchanged, which
// proves verification and signing are exact; with another key the chain re-signs end to end.
import { describe, expect, it } from 'vitest';
import { getSigningKey } from '@smithy/signature-v4';
import { Sha256 } from '../../src/sigv4/crypto.ts';
import { createChunkResigner, type ChunkResignerOptions } from '../../src/sigv4/chunked.ts';
import { SluiceError } from '../../src/errors/codes.ts';
import { canonicalCandidates } from '../../src/sigv4/canonical.ts';
import { findSigV4 } from '../../src/sigv4/parse.ts';
import { verifySurrogateSignature } from '../../src/sigv4/verify.ts';
import type { HeaderMap } from '../../src/http/header-map.ts';

const DOC_KEY = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const OTHER_KEY = { accessKeyId: 'AKIAREALREALREAL0000', secretAccessKey: 'real-secret-real-secret-real-secret-0000' };
const AMZ_DATE = '20130524T000000Z';
const SCOPE = '20130524/us-east-1/s3/aws4_request';
const SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
const DOC_CHUNKS = [
  'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
  'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
];
const TRAILER_SEED = '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e';
const TRAILER_CHUNKS = [
  'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
  '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
  '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
];
const TRAILER_SIGNATURE = 'd81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435';

function body(signatures: readonly string[], trailer?: string): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${signatures[0]}\r\n`), Buffer.alloc(65536, 'a'),
    Buffer.from(`\r\n400;chunk-signature=${signatures[1]}\r\n`), Buffer.alloc(1024, 'a'),
    Buffer.from(`\r\n0;chunk-signature=${signatures[2]}\r\n`),
    Buffer.from(trailer === undefined ? '\r\n' : `${trailer}\r\n`),
  ]);
}

async function key(k: { accessKeyId: string; secretAccessKey: string }): Promise<Uint8Array> {
  return getSigningKey(Sha256, k, '20130524', 'us-east-1', 's3');
}

/** Feeds `input` in pieces of `piece` bytes; returns the output or the first refusal. */
function run(options: ChunkResignerOptions, input: Buffer, piece = input.length): Buffer | SluiceError {
  const t = createChunkResigner(options);
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; i += piece) {
    const r = t.push(input.subarray(i, i + piece));
    if (r instanceof SluiceError) return r;
    out.push(r);
  }
  const r = t.end();
  if (r instanceof SluiceError) return r;
  out.push(r);
  return Buffer.concat(out);
}

async function options(agentSeed: string, realSeed: string, realKey: Uint8Array, trailer: boolean): Promise<ChunkResignerOptions> {
  return {
    amzDate: AMZ_DATE, scope: SCOPE, trailer, maxChunkBytes: 1 << 20, credentialName: 'aws',
    agent: { signingKey: await key(DOC_KEY), seed: agentSeed },
    real: { signingKey: realKey, seed: realSeed },
  };
}

describe('the documented chunked upload', () => {
  it('verifies the seed signature 4f232c43… of the documented request', async () => {
    const headers: HeaderMap = {
      'x-amz-date': AMZ_DATE, 'x-amz-storage-class': 'REDUCED_REDUNDANCY', 'content-encoding': 'aws-chunked',
      'x-amz-decoded-content-length': '66560', 'content-length': '66824', 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      authorization: `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=${SEED}`,
    };
    const auth = findSigV4(headers, '/examplebucket/chunkObject.txt');
    if (auth === undefined || 'error' in auth) throw new Error('parse failed');
    const candidates = canonicalCandidates(
      { method: 'PUT', target: '/examplebucket/chunkObject.txt', authority: 's3.amazonaws.com', headers },
      { service: 's3', signedHeaders: auth.signedHeaders, presigned: false, payloadHashes: ['STREAMING-AWS4-HMAC-SHA256-PAYLOAD'] },
    );
    if ('error' in candidates) throw new Error(candidates.error);
    expect(await verifySurrogateSignature(candidates, auth, DOC_KEY, 'aws')).toBe(candidates[0]);
  });

  for (const piece of [1, 7, 4096, 100_000]) {
    it(`re-signing with the same key and seed reproduces the published bytes (pieces of ${piece})`, async () => {
      const input = body(DOC_CHUNKS);
      expect(input.length).toBe(66824);
      const out = run(await options(SEED, SEED, await key(DOC_KEY), false), input, piece);
      expect(out).toBeInstanceOf(Buffer);
      expect((out as Buffer).equals(input)).toBe(true);
    });
  }

  it('re-signs every chunk with another key and seed: same length, and that chain verifies', async () => {
    const input = body(DOC_CHUNKS);
    const newSeed = 'f'.repeat(64);
    const realKey = await key(OTHER_KEY);
    const out = run(await options(SEED, newSeed, realKey, false), input, 1000) as Buffer;
    expect(out.length).toBe(input.length);
    expect(out.equals(input)).toBe(false);
    for (const s of DOC_CHUNKS) expect(out.includes(s)).toBe(false);
    // The real-key chain, checked by a verifier holding the real key.
    const check = run({ ...(await options(newSeed, newSeed, realKey, false)), agent: { signingKey: realKey, seed: newSeed } }, out);
    expect(check).toBeInstanceOf(Buffer);
    expect((check as Buffer).equals(out)).toBe(true);
  });

  it('refuses a flipped chunk signature before releasing that chunk', async () => {
    const flipped = [DOC_CHUNKS[0] as string, `${(DOC_CHUNKS[1] as string).slice(0, 63)}0`, DOC_CHUNKS[2] as string];
    const t = createChunkResigner(await options(SEED, SEED, await key(DOC_KEY), false));
    const input = body(flipped);
    const first = t.push(input.subarray(0, 65536 + 90 + 2));
    expect(first).toBeInstanceOf(Buffer);
    const rest = t.push(input.subarray(65536 + 90 + 2));
    expect(rest).toBeInstanceOf(SluiceError);
    expect((rest as SluiceError).reason).toBe('bad_surrogate_signature');
    expect((rest as SluiceError).message).toContain('chunk 2');
  });

  it('refuses tampered data, a wrong secret, a chunk over the cap, and a body cut short', async () => {
    const input = body(DOC_CHUNKS);
    const tampered = Buffer.from(input);
    tampered[200] = 0x62;
    expect(run(await options(SEED, SEED, await key(DOC_KEY), false), tampered)).toBeInstanceOf(SluiceError);
    const wrongAgent = { ...(await options(SEED, SEED, await key(DOC_KEY), false)), agent: { signingKey: await key(OTHER_KEY), seed: SEED } };
    expect((run(wrongAgent, input) as SluiceError).reason).toBe('bad_surrogate_signature');
    const small = { ...(await options(SEED, SEED, await key(DOC_KEY), false)), maxChunkBytes: 1024 };
    const big = run(small, input) as SluiceError;
    expect(big.reason).toBe('body_too_large');
    expect(big.status).toBe(413);
    const cut = run(await options(SEED, SEED, await key(DOC_KEY), false), input.subarray(0, input.length - 1)) as SluiceError;
    expect(cut.reason).toBe('bad_request');
  });
});

describe('the documented signed-trailer upload', () => {
  const trailer = `x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:${TRAILER_SIGNATURE}\r\n`;

  for (const piece of [1, 13, 70_000]) {
    it(`reproduces the published chunk and trailer signatures (pieces of ${piece})`, async () => {
      const input = body(TRAILER_CHUNKS, trailer);
      const out = run(await options(TRAILER_SEED, TRAILER_SEED, await key(DOC_KEY), true), input, piece);
      expect(out).toBeInstanceOf(Buffer);
      expect((out as Buffer).equals(input)).toBe(true);
    });
  }

  it('accepts the LF-then-CRLF trailer spelling some clients send', async () => {
    const input = body(TRAILER_CHUNKS, trailer.replace('\r\nx-amz-trailer-signature', '\n\r\nx-amz-trailer-signature'));
    const out = run(await options(TRAILER_SEED, TRAILER_SEED, await key(DOC_KEY), true), input);
    expect((out as Buffer).equals(input)).toBe(true);
  });

  it('re-signs the trailer with the real chain and refuses a wrong trailer signature', async () => {
    const input = body(TRAILER_CHUNKS, trailer);
    const realKey = await key(OTHER_KEY);
    const out = run(await options(TRAILER_SEED, 'e'.repeat(64), realKey, true), input) as Buffer;
    expect(out.length).toBe(input.length);
    expect(out.includes(TRAILER_SIGNATURE)).toBe(false);
    expect(out.toString('latin1')).toContain('x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:');
    const bad = body(TRAILER_CHUNKS, trailer.replace('trailer-signature:d81', 'trailer-signature:000'));
    const r = run(await options(TRAILER_SEED, TRAILER_SEED, await key(DOC_KEY), true), bad) as SluiceError;
    expect(r.reason).toBe('bad_surrogate_signature');
    expect(r.message).toContain('trailer');
  });
});
