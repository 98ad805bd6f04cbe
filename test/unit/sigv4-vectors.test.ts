// AWS's published SigV4 test suite (example.amazonaws.com, service "service", AKIDEXAMPLE),
// as the SDK's own fixture and aws-c-auth's copy of the suite give it: sluice's rebuild of the
// canonical request must verify every published signature with the published secret.
import { describe, expect, it } from 'vitest';
import { canonicalCandidates, canonicalPaths, renderCanonicalRequest, type CanonicalParts } from '../../src/sigv4/canonical.ts';
import { findSigV4, type SigV4Auth } from '../../src/sigv4/parse.ts';
import { requestSignature, verifySurrogateSignature } from '../../src/sigv4/verify.ts';
import { EMPTY_SHA256, sha256Hex } from '../../src/sigv4/crypto.ts';
import { SluiceError } from '../../src/errors/codes.ts';
import type { HeaderMap } from '../../src/http/header-map.ts';

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRET };
const HOST = 'example.amazonaws.com';
const DATE = '20150830T123600Z';
const STS_TOKEN = 'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==';

interface Vector {
  name: string;
  method: string;
  target: string;
  headers?: HeaderMap;
  body?: string;
  signed?: string;
  signature: string;
}

const UNRESERVED = '-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const HEADER_VECTORS: Vector[] = [
  { name: 'get-vanilla', method: 'GET', target: '/', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
  { name: 'get-vanilla-query', method: 'GET', target: '/', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
  { name: 'get-vanilla-empty-query-key', method: 'GET', target: '/?Param1=value1', signature: 'a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb' },
  { name: 'get-vanilla-query-order-key-case', method: 'GET', target: '/?Param2=value2&Param1=value1', signature: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500' },
  { name: 'get-vanilla-query-unreserved', method: 'GET', target: `/?${UNRESERVED}=${UNRESERVED}`, signature: '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197' },
  { name: 'get-vanilla-utf8-query (percent-encoded on the wire)', method: 'GET', target: '/?%E1%88%B4=bar', signature: '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04' },
  { name: 'get-unreserved', method: 'GET', target: `/${UNRESERVED}`, signature: '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f' },
  { name: 'get-utf8', method: 'GET', target: '/ሴ', signature: '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85' },
  { name: 'get-space (normalized)', method: 'GET', target: '/example space/', signature: '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741' },
  { name: 'get-slashes (normalized)', method: 'GET', target: '//example//', signature: '9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84' },
  { name: 'get-relative-relative (normalized)', method: 'GET', target: '/example1/example2/../..', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
  { name: 'get-slash-pointless-dot (normalized)', method: 'GET', target: '/./example', signature: 'ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5' },
  { name: 'get-header-key-duplicate', method: 'GET', target: '/', headers: { 'my-header1': ['value2', 'value2', 'value1'] }, signed: 'host;my-header1;x-amz-date', signature: 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea' },
  { name: 'get-header-value-multiline', method: 'GET', target: '/', headers: { 'my-header1': ['value1', 'value2', 'value3'] }, signed: 'host;my-header1;x-amz-date', signature: 'ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790' },
  { name: 'get-header-value-order', method: 'GET', target: '/', headers: { 'my-header1': ['value4', 'value1', 'value3', 'value2'] }, signed: 'host;my-header1;x-amz-date', signature: '08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01' },
  { name: 'get-header-value-trim', method: 'GET', target: '/', headers: { 'my-header1': ' value1', 'my-header2': ' "a   b   c"' }, signed: 'host;my-header1;my-header2;x-amz-date', signature: 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736' },
  { name: 'post-vanilla', method: 'POST', target: '/', signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b' },
  { name: 'post-header-key-case', method: 'POST', target: '/', signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b' },
  { name: 'post-header-key-sort', method: 'POST', target: '/', headers: { 'my-header1': 'value1' }, signed: 'host;my-header1;x-amz-date', signature: 'c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c' },
  { name: 'post-header-value-case', method: 'POST', target: '/', headers: { 'my-header1': 'VALUE1' }, signed: 'host;my-header1;x-amz-date', signature: 'cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d' },
  { name: 'post-sts-header-before', method: 'POST', target: '/', headers: { 'x-amz-security-token': STS_TOKEN }, signed: 'host;x-amz-date;x-amz-security-token', signature: '85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead' },
  { name: 'post-sts-header-after', method: 'POST', target: '/', headers: { 'x-amz-security-token': STS_TOKEN }, signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b' },
  { name: 'post-vanilla-query', method: 'POST', target: '/?Param1=value1', signature: '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11' },
  { name: 'post-vanilla-query-nonunreserved (+ as %2B)', method: 'POST', target: '/?%40%23%24%25%5E=&%2B=%2F%2C%3F%3E%3C%60%22%3B%3A%5C%7C%5D%5B%7B%7D', signature: '66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e' },
  { name: 'post-vanilla-query-space (a bare flag maps to an empty value)', method: 'POST', target: '/?p', signature: 'e71688addb58a26418614085fb730ba3faa623b461c17f48f2fbdb9361b94a9b' },
  { name: 'post-x-www-form-urlencoded', method: 'POST', target: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Param1=value1', signed: 'content-type;host;x-amz-date', signature: 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a' },
  { name: 'post-x-www-form-urlencoded-parameters', method: 'POST', target: '/', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf8' }, body: 'Param1=value1', signed: 'content-type;host;x-amz-date', signature: '1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe' },
];

function headerAuth(v: Vector): { auth: SigV4Auth; headers: HeaderMap } {
  const headers: HeaderMap = {
    ...v.headers,
    'x-amz-date': DATE,
    authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=${v.signed ?? 'host;x-amz-date'}, Signature=${v.signature}`,
  };
  const auth = findSigV4(headers, v.target);
  if (auth === undefined || 'error' in auth) throw new Error(`parse failed: ${JSON.stringify(auth)}`);
  return { auth, headers };
}

function candidatesFor(v: Vector, auth: SigV4Auth, headers: HeaderMap, payloadHashes: string[], service = 'service'): CanonicalParts[] {
  const c = canonicalCandidates({ method: v.method, target: v.target, authority: HOST, headers }, { service, signedHeaders: auth.signedHeaders, presigned: auth.location === 'query', payloadHashes });
  if ('error' in c) throw new Error(c.error);
  return c;
}

describe('AWS SigV4 test suite, header signatures', () => {
  for (const v of HEADER_VECTORS) {
    it(`${v.name}: the published signature verifies against the first rebuilt candidate`, async () => {
      const { auth, headers } = headerAuth(v);
      const candidates = candidatesFor(v, auth, headers, [v.body === undefined ? EMPTY_SHA256 : sha256Hex(v.body)]);
      const verified = await verifySurrogateSignature(candidates, auth, KEYS, 'suite');
      expect(verified).not.toBeInstanceOf(SluiceError);
      expect(verified).toBe(candidates[0]);
    });
  }

  it('rebuilds get-vanilla.creq and post-x-www-form-urlencoded.creq exactly', () => {
    const vanilla = HEADER_VECTORS[0] as Vector;
    const a = headerAuth(vanilla);
    expect(renderCanonicalRequest(candidatesFor(vanilla, a.auth, a.headers, [EMPTY_SHA256])[0] as CanonicalParts)).toBe(
      'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    const form = HEADER_VECTORS.find((v) => v.name === 'post-x-www-form-urlencoded') as Vector;
    const f = headerAuth(form);
    expect(renderCanonicalRequest(candidatesFor(form, f.auth, f.headers, [sha256Hex('Param1=value1')])[0] as CanonicalParts)).toBe(
      'POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e',
    );
  });

  it('get-slashes (unnormalized, S3 style): the path is signed as received', async () => {
    const path = canonicalPaths('//example//', true);
    expect(path).toEqual(['//example//']);
    const parts: CanonicalParts = { method: 'GET', path: '//example//', queryPairs: [], plusAsSpace: false, headers: [['host', HOST], ['x-amz-date', DATE]], payloadHash: EMPTY_SHA256 };
    const sig = await requestSignature(renderCanonicalRequest(parts), DATE, { date: '20150830', region: 'us-east-1', service: 'service' }, SECRET);
    expect(sig).toBe('87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5');
  });

  it('refuses the published request under a wrong secret, and a tampered one under the right secret', async () => {
    const v = HEADER_VECTORS[3] as Vector;
    const { auth, headers } = headerAuth(v);
    const wrong = await verifySurrogateSignature(candidatesFor(v, auth, headers, [EMPTY_SHA256]), auth, { ...KEYS, secretAccessKey: `${SECRET}x` }, 'suite');
    expect(wrong).toBeInstanceOf(SluiceError);
    expect((wrong as SluiceError).reason).toBe('bad_surrogate_signature');
    expect((wrong as SluiceError).status).toBe(403);
    const tampered = { ...v, target: '/?Param2=value2&Param1=value9' };
    const t = await verifySurrogateSignature(candidatesFor(tampered, auth, headers, [EMPTY_SHA256]), auth, KEYS, 'suite');
    expect(t).toBeInstanceOf(SluiceError);
  });
});

describe('AWS SigV4 test suite, presigned (query) signatures', () => {
  const presigned: Vector[] = [
    { name: 'get-vanilla-query-order-key-case', method: 'GET', target: '/?Param2=value2&Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5', signature: '' },
    { name: 'get-utf8', method: 'GET', target: '/ሴ?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Expires=3600&X-Amz-Signature=10eae3f14a260bd3911cc6d008d3c576d143b05b62f09782a7a4b37f52178e44', signature: '' },
  ];
  for (const v of presigned) {
    it(`${v.name}: verifies, and fails once a query value is changed`, async () => {
      const headers: HeaderMap = { 'x-amz-date': DATE };
      const auth = findSigV4(headers, v.target);
      if (auth === undefined || 'error' in auth) throw new Error('parse failed');
      expect(auth.location).toBe('query');
      expect(auth.expires).toBe(3600);
      const ok = await verifySurrogateSignature(candidatesFor(v, auth, headers, ['UNSIGNED-PAYLOAD', EMPTY_SHA256]), auth, KEYS, 'suite');
      expect(ok).not.toBeInstanceOf(SluiceError);
      const tampered = { ...v, target: v.target.replace('X-Amz-Expires=3600', 'X-Amz-Expires=3601') };
      const bad = await verifySurrogateSignature(candidatesFor(tampered, auth, headers, ['UNSIGNED-PAYLOAD', EMPTY_SHA256]), auth, KEYS, 'suite');
      expect(bad).toBeInstanceOf(SluiceError);
    });
  }
});
