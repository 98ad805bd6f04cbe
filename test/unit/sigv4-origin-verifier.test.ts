// The integration origin's own aws-chunked check (test/helpers/sigv4-origin.ts) must be right
// for its verdicts to mean anything: proven here against AWS's published examples, independent
// of sluice's code (DESIGN.md §6).
import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { decodeAwsChunked, encodeAwsChunked } from '../helpers/sigv4-origin.ts';

const hmac = (k: Buffer | string, t: string): Buffer => createHmac('sha256', k).update(t).digest();
const KEY = hmac(hmac(hmac(hmac('AWS4wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '20130524'), 'us-east-1'), 's3'), 'aws4_request');
const CHAIN = { key: KEY, amzDate: '20130524T000000Z', scope: '20130524/us-east-1/s3/aws4_request' };

function doc(sigs: string[], trailer = '\r\n'): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${sigs[0]}\r\n`), Buffer.alloc(65536, 'a'),
    Buffer.from(`\r\n400;chunk-signature=${sigs[1]}\r\n`), Buffer.alloc(1024, 'a'),
    Buffer.from(`\r\n0;chunk-signature=${sigs[2]}\r\n${trailer}`),
  ]);
}

describe('the test origin\'s chunk verifier', () => {
  const sigs = ['ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648', '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497', 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9'];
  const seed = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';

  it('accepts the published chunked example and decodes 66560 bytes of "a"', () => {
    const r = decodeAwsChunked(doc(sigs), { ...CHAIN, seed });
    expect(r.error).toBeUndefined();
    expect(r.data.equals(Buffer.alloc(66560, 'a'))).toBe(true);
  });

  it('accepts the published signed-trailer example', () => {
    const t = ['b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2', '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7', '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992'];
    const trailer = 'x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n';
    expect(decodeAwsChunked(doc(t, trailer), { ...CHAIN, seed: '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e' }).error).toBeUndefined();
    expect(decodeAwsChunked(doc(t, trailer.replace(':d81', ':000')), { ...CHAIN, seed: '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e' }).error).toBe('trailer signature mismatch');
  });

  it('refuses a flipped chunk signature, a wrong seed, and its own encoder agrees with the example', () => {
    expect(decodeAwsChunked(doc([sigs[0] as string, `1${(sigs[1] as string).slice(1)}`, sigs[2] as string]), { ...CHAIN, seed }).error).toMatch(/mismatch/);
    expect(decodeAwsChunked(doc(sigs), { ...CHAIN, seed: '0'.repeat(64) }).error).toMatch(/mismatch/);
    const encoded = encodeAwsChunked(Buffer.alloc(66560, 'a'), 65536, { secret: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', amzDate: '20130524T000000Z', date: '20130524', region: 'us-east-1', service: 's3', seed });
    expect(encoded.equals(doc(sigs))).toBe(true);
  });
});
